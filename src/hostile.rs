//! Strategies for the property tests that hostile input never panics (issue 10): arbitrary JSON
//! with wrong types, huge numbers, deep nesting and long strings, and arbitrary Terraform types.
//! The tests themselves sit beside the code they attack (`hostile_input` modules), since the
//! decoders and wire types they reach are private there. `PROPTEST_CASES` sets how many cases
//! each property runs: proptest's 256 in `make test`, many more in `make proptest-long`.

use proptest::prelude::*;

/// Any JSON value: every scalar kind (numbers far outside i64 and f64 precision among them),
/// strings with any characters, and arrays and objects nested up to a few levels, whose keys are
/// often the field names obshell's answers use, so wrong-typed fields are hit, not only unknown
/// ones.
pub(crate) fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let key = prop_oneof![
        3 => prop::sample::select(FIELD_NAMES).prop_map(str::to_owned),
        1 => ".{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        prop::sample::select(ODD_STRINGS).prop_map(|text| Value::String(text.to_owned())),
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..10)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Field names of obshell's answers and of Terraform's values, so generated objects look like
/// the real thing with wrong values.
const FIELD_NAMES: &[&str] = &[
    "successful",
    "data",
    "error",
    "status",
    "timestamp",
    "code",
    "errCode",
    "message",
    "contents",
    "id",
    "generic_id",
    "dag_id",
    "name",
    "stage",
    "max_stage",
    "state",
    "operator",
    "nodes",
    "sub_tasks",
    "start_time",
    "end_time",
    "additional_data",
    "logs",
    "agent",
    "version",
    "identity",
    "ob_version",
    "ip",
    "port",
    "cluster_id",
    "cluster_name",
    "tenant_id",
    "tenant_name",
    "mode",
    "value",
    "data_type",
    "info",
    "edit_level",
    "archive_base_uri",
    "data_base_uri",
    "round_id",
    "path",
    "delay",
    "public_key",
    "svr_ip",
    "backup_base_uri",
    "storage_credentials",
    "access_id",
    "access_key",
    "timeouts",
];

/// Strings that have broken parsers before: timestamps, durations, URIs, numbers as text.
const ODD_STRINGS: &[&str] = &[
    "",
    "0",
    "-1",
    "1e400",
    "NaN",
    "9223372036854775808",
    "2024-02-30T25:61:61Z",
    "2024-01-01T00:00:00.123456789+99:99",
    "0001-01-01T00:00:00Z",
    "RUNNING",
    "SUCCEED",
    "FAILED",
    "ROLLBACK",
    "oss://",
    "file://",
    "s3://b?host=",
    "1d",
    "2h30m",
    "9999999999999d",
    "-5m",
    "1.5h",
    "\u{0}",
    "é",
    "%ff",
    "?&=&",
    "CLUSTER AGENT",
    "4.2.4.0-100000012024",
];

/// Any Terraform type, nested a few levels, dynamic included.
pub(crate) fn tf_type() -> impl Strategy<Value = crate::tf::Type> {
    use crate::tf::Type;
    let leaf = prop_oneof![
        Just(Type::Bool),
        Just(Type::Number),
        Just(Type::String),
        Just(Type::Dynamic),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| Type::List(Box::new(t))),
            inner.clone().prop_map(|t| Type::Set(Box::new(t))),
            inner.clone().prop_map(|t| Type::Map(Box::new(t))),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..5).prop_map(Type::Object),
        ]
    })
}

//! The provider block's optional SQL settings (`sql_endpoint` and friends): schema, static
//! validation, and the [`SqlSettings`] ConfigureProvider builds. No network call.

use std::time::Duration;

use crate::sql::{parse_sql_endpoint, SqlSettings, SqlTls, DEFAULT_SQL_USER};
use crate::tf::{Attribute, AttributePath, Diagnostic, Diagnostics, Presence, Type, Value};

/// The environment variable read when `sql_endpoint` is not set.
pub const SQL_ENDPOINT_ENV: &str = "OCEANBASE_SQL_ENDPOINT";

/// The names of the SQL attributes.
pub const SQL_ATTRIBUTES: [&str; 5] = [
    "sql_endpoint",
    "sql_user",
    "sql_password",
    "sql_tls_required",
    "sql_ca_certificate",
];

/// The SQL attributes of the provider block.
pub fn sql_attributes() -> Vec<Attribute> {
    use Presence::Optional;
    vec![
        Attribute::new(
            "sql_endpoint",
            Type::String,
            Optional,
            "host:port of the cluster's MySQL port (an observer's 2881, or OBProxy's 2883), for reading the sys tenant's backup views. With it, binding, piece_switch_interval, delete_policy and (on every obshell version) backup_base_uri are read back and compared, so a change made through SQL shows as drift. Falls back to the OCEANBASE_SQL_ENDPOINT environment variable. Without it, those attributes are not read back.",
        ),
        Attribute::new(
            "sql_user",
            Type::String,
            Optional,
            "The sys-tenant user for sql_endpoint; default \"root\" (root@sys, whose password is the provider's password). Through OBProxy give the full form, such as \"tf_ro@sys#obcluster\".",
        ),
        Attribute::new(
            "sql_password",
            Type::String,
            Optional,
            "The password of sql_user, for a separate read-only user (SELECT on the oceanbase database of the sys tenant). Default: the provider's password.",
        )
        .sensitive(),
        Attribute::new(
            "sql_tls_required",
            Type::Bool,
            Optional,
            "Connect to sql_endpoint over TLS only, refusing a server that does not offer it. Default false (OceanBase's MySQL port is plain unless TLS was enabled on it).",
        ),
        Attribute::new(
            "sql_ca_certificate",
            Type::String,
            Optional,
            "PEM certificate(s) of the CA that signed the SQL endpoint's TLS certificate (for example file(\"ca.pem\")); implies sql_tls_required.",
        ),
    ]
}

fn known_string<'a>(config: &'a Value, name: &str) -> Option<&'a str> {
    config.get(name).and_then(Value::as_str)
}

fn is_set(config: &Value, name: &str) -> bool {
    config.get(name).is_some_and(|value| !value.is_null())
}

fn endpoint_error(source: &str) -> Diagnostic {
    Diagnostic::error(
        "Invalid sql_endpoint",
        format!("The {source} must be host:port of the cluster's MySQL port, such as \"10.0.0.1:2881\", without a scheme, user, password or path."),
    )
    .at(AttributePath::root("sql_endpoint"))
}

/// Static checks of the SQL attributes (unknown values are skipped). Never echoes a value: an
/// endpoint may have had a password pasted into it.
pub fn validate_sql_block(config: &Value) -> Diagnostics {
    let mut diagnostics = Diagnostics::new();
    if let Some(endpoint) = known_string(config, "sql_endpoint") {
        if parse_sql_endpoint(endpoint).is_err() {
            diagnostics.push(endpoint_error("sql_endpoint"));
        }
    }
    if let Some(user) = known_string(config, "sql_user") {
        if user.trim().is_empty() || user.chars().any(char::is_whitespace) {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid sql_user",
                    "sql_user must be a user name without whitespace, such as \"root\" or \"tf_ro\".",
                )
                .at(AttributePath::root("sql_user")),
            );
        }
    }
    if let Some(pem) = known_string(config, "sql_ca_certificate") {
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid sql_ca_certificate",
                    "sql_ca_certificate must hold PEM certificate text (-----BEGIN CERTIFICATE-----), for example file(\"ca.pem\"), not a path.",
                )
                .at(AttributePath::root("sql_ca_certificate")),
            );
        }
    }
    diagnostics
}

/// True when a SQL attribute is unknown (ConfigureProvider then leaves the provider unusable
/// until apply, as for the other attributes).
pub fn sql_unknown(config: &Value) -> bool {
    SQL_ATTRIBUTES
        .iter()
        .any(|name| config.get(name).is_some_and(Value::is_unknown))
}

/// The SQL settings, or `None` when neither `sql_endpoint` nor `OCEANBASE_SQL_ENDPOINT` is set.
/// `password` is the provider's password (the default of `sql_password`); `timeout` limits
/// connecting and each query.
pub fn sql_settings_from_block(
    config: &Value,
    environment: impl Fn(&str) -> Option<String>,
    password: &str,
    timeout: Duration,
) -> Result<Option<SqlSettings>, Diagnostics> {
    let mut diagnostics = Diagnostics::new();
    let (endpoint, source) = match known_string(config, "sql_endpoint") {
        Some(endpoint) => (Some(endpoint.trim().to_owned()), "sql_endpoint"),
        None => (
            environment(SQL_ENDPOINT_ENV).filter(|value| !value.trim().is_empty()),
            SQL_ENDPOINT_ENV,
        ),
    };
    let Some(endpoint) = endpoint else {
        let stray: Vec<&str> = SQL_ATTRIBUTES[1..]
            .iter()
            .copied()
            .filter(|name| is_set(config, name))
            .collect();
        if let Some(first) = stray.first() {
            diagnostics.push(
                Diagnostic::error(
                    "sql_endpoint is not set",
                    format!("{} only matter with sql_endpoint (or {SQL_ENDPOINT_ENV}); set it to the cluster's MySQL port, or remove them.", stray.join(", ")),
                )
                .at(AttributePath::root(first)),
            );
            return Err(diagnostics);
        }
        return Ok(None);
    };
    let Ok((host, port)) = parse_sql_endpoint(&endpoint) else {
        return Err(endpoint_error(source).into());
    };
    let ca_certificate_pem = known_string(config, "sql_ca_certificate").map(str::to_owned);
    let required = config
        .get("sql_tls_required")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(Some(SqlSettings {
        endpoint,
        host,
        port,
        user: known_string(config, "sql_user")
            .unwrap_or(DEFAULT_SQL_USER)
            .to_owned(),
        password: known_string(config, "sql_password")
            .unwrap_or(password)
            .to_owned(),
        tls: SqlTls {
            required,
            ca_certificate_pem,
        },
        timeout,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn block(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn settings(config: &Value, env: Option<&str>) -> Result<Option<SqlSettings>, Diagnostics> {
        let env = env.map(str::to_owned);
        sql_settings_from_block(
            config,
            move |name| (name == SQL_ENDPOINT_ENV).then(|| env.clone()).flatten(),
            "provider-pw",
            Duration::from_secs(30),
        )
    }

    #[test]
    fn without_an_endpoint_nothing_is_read() {
        assert!(settings(&block(&[]), None).expect("ok").is_none());
        // A stray setting without an endpoint is an error naming it.
        let error =
            settings(&block(&[("sql_user", Value::from("tf_ro"))]), None).expect_err("stray");
        assert!(error.0.iter().any(|d| d.summary.contains("sql_endpoint")));
    }

    #[test]
    fn defaults_and_fallbacks() {
        let from_env = settings(&block(&[]), Some("10.0.0.1:2881"))
            .expect("ok")
            .expect("settings");
        assert_eq!((from_env.host.as_str(), from_env.port), ("10.0.0.1", 2881));
        assert_eq!(from_env.user, "root");
        assert_eq!(from_env.password, "provider-pw");
        assert!(!from_env.tls.enabled());
        let explicit = settings(
            &block(&[
                ("sql_endpoint", Value::from("db:2883")),
                ("sql_user", Value::from("tf_ro@sys#obcluster")),
                ("sql_password", Value::from("ro-pw")),
                ("sql_tls_required", Value::Bool(true)),
            ]),
            Some("ignored:1"),
        )
        .expect("ok")
        .expect("settings");
        assert_eq!(explicit.endpoint, "db:2883");
        assert_eq!(explicit.user, "tf_ro@sys#obcluster");
        assert_eq!(explicit.password, "ro-pw");
        assert!(explicit.tls.required);
        assert!(!format!("{explicit:?}").contains("ro-pw"));
    }

    #[test]
    fn bad_values_name_the_attribute_without_echo() {
        let config = block(&[
            ("sql_endpoint", Value::from("mysql://root:hunter2@db:2881")),
            ("sql_user", Value::from("  ")),
            ("sql_ca_certificate", Value::from("/etc/ca.pem")),
        ]);
        let diagnostics = validate_sql_block(&config);
        let text = format!("{diagnostics:?}");
        assert_eq!(diagnostics.0.len(), 3, "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(settings(&block(&[]), Some("db")).is_err());
    }
}

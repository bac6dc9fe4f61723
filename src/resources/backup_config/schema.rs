//! The `oceanbase_backup_config` schema (design §3, "Schema"). Every attribute has a description.

use crate::tf::{Attribute, Block, Nesting, Presence, Schema, Type};

/// The default for `delete_policy.policy`.
pub const DEFAULT_DELETE_POLICY: &str = "default";
/// The default for `timeouts.create`.
pub const DEFAULT_CREATE_TIMEOUT: &str = "70m";
/// The default for `timeouts.update`.
pub const DEFAULT_UPDATE_TIMEOUT: &str = "70m";
/// The default for `timeouts.read`.
pub const DEFAULT_READ_TIMEOUT: &str = "2m";
/// The default for `restore_archive_log`.
pub const DEFAULT_RESTORE_ARCHIVE_LOG: bool = true;

/// The resource's schema, version 0.
pub fn backup_config_schema() -> Schema {
    use Presence::{Computed, Optional, OptionalComputed, Required};
    let attributes = vec![
        Attribute::new(
            "id",
            Type::String,
            Computed,
            "The id of the OceanBase cluster (from obshell's cluster info). One resource manages one cluster.",
        ),
        Attribute::new(
            "backup_base_uri",
            Type::String,
            Required,
            "Where every user tenant archives logs and backs up data: file:///absolute/path (a file system mounted on every node), or oss://bucket/path?host=..., cos://bucket/path?host=...&appid=..., s3://bucket/path?host=...[&s3_region=...]; the only query parameters obshell keeps are host, delete_mode, appid (cos) and s3_region (s3). obshell appends /<cluster_id>/<tenant_id>/clog and /data per tenant. Credentials never go here; use storage_credentials. Setting or changing it stops archive log and cancels running data backups on every tenant.",
        ),
        Attribute::nested(
            "storage_credentials",
            Nesting::Single,
            vec![
                Attribute::new("access_id", Type::String, Required, "The object store's access key id.")
                    .sensitive(),
                Attribute::new("access_key", Type::String, Required, "The object store's secret access key.")
                    .sensitive(),
            ],
            Optional,
            "Credentials for oss://, cos:// and s3:// storage, merged into the URI sent to obshell, for Terraform before 1.11: they are stored (sensitive, but in clear text) in the state and in saved plans. With Terraform 1.11 or later use storage_credentials_wo instead; set at most one of the two. obshell never returns them, so they are not checked against the cluster. Required whenever backup_base_uri is sent to an object store.",
        ),
        Attribute::nested(
            "storage_credentials_wo",
            Nesting::Single,
            vec![
                Attribute::new("access_id", Type::String, Required, "The object store's access key id.")
                    .sensitive()
                    .write_only(),
                Attribute::new("access_key", Type::String, Required, "The object store's secret access key.")
                    .sensitive()
                    .write_only(),
            ],
            Optional,
            "Write-only credentials for oss://, cos:// and s3:// storage (Terraform 1.11 or later), merged into the URI sent to obshell and never stored: not in the state, not in a saved plan, not in the provider's private data; an ephemeral value may be given. Terraform never shows a change of a write-only value, so change storage_credentials_wo_version to send new credentials. Set at most one of storage_credentials and storage_credentials_wo; one is required whenever backup_base_uri is sent to an object store.",
        )
        // Not sensitive itself, like storage_credentials: `plan -generate-config-out` writes a
        // sensitive nested object as `{}`, which fails the nested attributes' Required rule.
        .write_only(),
        Attribute::new(
            "storage_credentials_wo_version",
            Type::Number,
            Optional,
            "Any number that changes whenever storage_credentials_wo should be sent again (a credential rotation): a change sends the storage location with the current credentials, which stops archive log and cancels running data backups like a change of backup_base_uri. Only with storage_credentials_wo.",
        ),
        Attribute::new(
            "log_archive_concurrency",
            Type::Number,
            OptionalComputed,
            "The number of archive-log threads per tenant, a whole number from 0 to 100 (0 lets OceanBase decide). Read back from every tenant. Changing it stops archive log on every tenant.",
        ),
        Attribute::new(
            "ha_low_thread_score",
            Type::Number,
            OptionalComputed,
            "The thread score of low-priority high-availability work such as backup, a whole number from 0 to 100. Read back from every tenant.",
        ),
        Attribute::new(
            "archive_lag_target",
            Type::String,
            OptionalComputed,
            "The longest delay of archived log, an obshell duration such as \"2m\" or \"120s\": greater than zero, at most 2h, at least 1m for s3://. Read back from every tenant and compared by meaning, so \"2m\" equals \"120s\".",
        ),
        Attribute::new(
            "binding",
            Type::String,
            Optional,
            "Archive-log binding mode: \"optional\" (archiving may lag behind the business) or \"mandatory\", in any case. obshell cannot report it, so it is not checked against the cluster. Sent together with backup_base_uri and piece_switch_interval; null means OPTIONAL.",
        ),
        Attribute::new(
            "piece_switch_interval",
            Type::String,
            Optional,
            "How often archive log starts a new piece, an obshell duration from \"1d\" to \"7d\". obshell cannot report it, so it is not checked against the cluster. Sent together with backup_base_uri and binding; null means 1d.",
        ),
        Attribute::nested(
            "delete_policy",
            Nesting::Single,
            vec![
                Attribute::new(
                    "policy",
                    Type::String,
                    OptionalComputed,
                    "The delete policy's name. OceanBase supports only \"default\", the default.",
                ),
                Attribute::new(
                    "recovery_window",
                    Type::String,
                    Required,
                    "How far back data must stay restorable, a whole number with the unit d, h, m or s, such as \"7d\". Older backups are deleted.",
                ),
            ],
            Optional,
            "The backup delete policy of every tenant. obshell cannot report it, so it is not checked against the cluster; null leaves the cluster's policy as it is.",
        ),
        Attribute::new(
            "restore_archive_log",
            Type::Bool,
            OptionalComputed,
            "obshell stops archive log on every tenant when a change carries backup_base_uri or log_archive_concurrency. When true (the default), the provider reopens archive log afterwards on exactly the tenants that were archiving before (obshell 4.3.2 and later can report that).",
        ),
        Attribute::nested(
            "timeouts",
            Nesting::Single,
            vec![
                Attribute::new(
                    "create",
                    Type::String,
                    OptionalComputed,
                    "How long a create may take, including obshell's task; a Go duration or days, such as \"70m\", \"1h30m\" or \"1d\". Default 70m.",
                ),
                Attribute::new(
                    "update",
                    Type::String,
                    OptionalComputed,
                    "How long an update may take, including obshell's task; a Go duration or days. Default 70m.",
                ),
                Attribute::new(
                    "read",
                    Type::String,
                    OptionalComputed,
                    "How long reading the cluster's settings may take; a Go duration or days. Default 2m.",
                ),
            ],
            OptionalComputed,
            "Time limits for this resource's operations. When one runs out, obshell's task goes on; the error names it.",
        ),
        Attribute::nested(
            "tenants",
            Nesting::Map,
            vec![
                Attribute::new("tenant_id", Type::Number, Computed, "The tenant's id."),
                Attribute::new(
                    "log_archive_concurrency",
                    Type::Number,
                    Computed,
                    "The tenant's log_archive_concurrency.",
                ),
                Attribute::new(
                    "ha_low_thread_score",
                    Type::Number,
                    Computed,
                    "The tenant's ha_low_thread_score.",
                ),
                Attribute::new(
                    "archive_lag_target",
                    Type::String,
                    Computed,
                    "The tenant's archive_lag_target as OceanBase stores it.",
                ),
                Attribute::new(
                    "archive_dest",
                    Type::String,
                    Computed,
                    "The tenant's archive-log destination without credentials; null when it cannot be read (obshell before 4.3.2 without sql_endpoint).",
                ),
                Attribute::new(
                    "data_dest",
                    Type::String,
                    Computed,
                    "The tenant's data-backup destination without credentials; null when it cannot be read (obshell before 4.3.2 without sql_endpoint).",
                ),
                Attribute::new(
                    "binding",
                    Type::String,
                    Computed,
                    "The tenant's archive binding (OPTIONAL or MANDATORY) from CDB_OB_ARCHIVE_DEST; null without sql_endpoint or without an archive destination.",
                ),
                Attribute::new(
                    "piece_switch_interval",
                    Type::String,
                    Computed,
                    "The tenant's piece switch interval as OceanBase stores it (\"1d\"...\"7d\"); null without sql_endpoint or without an archive destination.",
                ),
                Attribute::new(
                    "delete_policy_recovery_window",
                    Type::String,
                    Computed,
                    "The recovery window of the tenant's delete policy as stored; null without sql_endpoint or without a policy.",
                ),
                Attribute::new(
                    "archive_log",
                    Type::String,
                    Computed,
                    "The status of the tenant's archive-log round: PREPARE, BEGINNING, DOING, STOPPING or SUSPEND, or OFF when none is active (never started, stopped or interrupted). Read from obshell 4.3.2 or later, or with sql_endpoint from CDB_OB_ARCHIVELOG; null otherwise.",
                ),
            ],
            Computed,
            "What each NORMAL user tenant reports, keyed by tenant name. Informational: drift seen only here does not make a plan non-empty (an output of tenants makes it visible in terraform plan -detailed-exitcode). A plan keeps every part the change cannot alter and shows as (known after apply) only the fields it can.",
        ),
    ];
    Schema {
        version: 0,
        block: Block {
            attributes,
            description: "The cluster-level backup configuration of one OceanBase cluster, applied to every user tenant through obshell. Deleting the resource leaves the cluster's backup settings as they are.".to_owned(),
            markdown_description: "The cluster-level backup configuration of one OceanBase cluster, applied to every user tenant through obshell. Deleting the resource leaves the cluster's backup settings as they are.".to_owned(),
            deprecated: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tf::AttributeKind;

    fn check_described(attributes: &[Attribute], prefix: &str) {
        for attribute in attributes {
            assert!(
                !attribute.description.trim().is_empty(),
                "{prefix}{} has no description",
                attribute.name
            );
            if let AttributeKind::Nested { attributes, .. } = &attribute.kind {
                check_described(attributes, &format!("{prefix}{}.", attribute.name));
            }
        }
    }

    #[test]
    fn every_attribute_is_described() {
        check_described(&backup_config_schema().block.attributes, "");
    }

    #[test]
    fn presence_matches_the_design_table() {
        let schema = backup_config_schema();
        let presence = |name: &str| schema.block.attribute(name).expect(name).presence;
        assert_eq!(presence("backup_base_uri"), Presence::Required);
        assert_eq!(presence("storage_credentials"), Presence::Optional);
        assert_eq!(
            presence("log_archive_concurrency"),
            Presence::OptionalComputed
        );
        assert_eq!(presence("ha_low_thread_score"), Presence::OptionalComputed);
        assert_eq!(presence("archive_lag_target"), Presence::OptionalComputed);
        assert_eq!(presence("binding"), Presence::Optional);
        assert_eq!(presence("piece_switch_interval"), Presence::Optional);
        assert_eq!(presence("delete_policy"), Presence::Optional);
        assert_eq!(presence("id"), Presence::Computed);
        assert_eq!(presence("tenants"), Presence::Computed);
        // The values are sensitive; the object itself is not, so that `plan
        // -generate-config-out` writes `storage_credentials = null` (a sensitive nested object is
        // written as `{}`, which fails validation).
        let credentials = schema
            .block
            .attribute("storage_credentials")
            .expect("credentials");
        let AttributeKind::Nested { attributes, .. } = &credentials.kind else {
            panic!("storage_credentials is a nested attribute")
        };
        assert!(attributes.iter().all(|attribute| attribute.sensitive));
        assert!(!credentials.sensitive);
        let write_only = schema
            .block
            .attribute("storage_credentials_wo")
            .expect("write-only credentials");
        let AttributeKind::Nested { attributes, .. } = &write_only.kind else {
            panic!("storage_credentials_wo is a nested attribute")
        };
        assert!(attributes
            .iter()
            .all(|attribute| attribute.sensitive && attribute.write_only));
        assert!(write_only.write_only && !write_only.sensitive);
        assert!(
            !schema
                .block
                .attribute("backup_base_uri")
                .expect("uri")
                .sensitive
        );
    }
}

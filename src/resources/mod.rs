//! The `resources` component: Terraform resource types served by this provider. There is one,
//! `oceanbase_backup_config` ([`backup_config`]), and one data source of the same name
//! ([`backup_config_data`]). The provider dispatches on [`BACKUP_CONFIG_TYPE`].

pub mod backup_config;
pub mod backup_config_data;
pub mod diagnostics;

/// The type name of the backup-config resource.
pub const BACKUP_CONFIG_TYPE: &str = "oceanbase_backup_config";

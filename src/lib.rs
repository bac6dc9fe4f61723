//! terraform-provider-oceanbase: a Terraform provider, speaking plugin protocol 6, that manages the
//! cluster-level backup configuration of self-hosted OceanBase clusters through obshell's HTTP API.
//!
//! Components, each a module with one job (ARCHITECTURE.md has the map and the invariants):
//! - [`tf`]: the protocol-free Terraform model (values, schemas, diagnostics) and the
//!   [`tf::ProviderHandler`] contract between the plugin server and the provider.
//! - [`server`]: the go-plugin handshake and the tfplugin6 gRPC service. Knows no obshell.
//! - [`provider`]: provider configuration and Terraform semantics. Speaks neither gRPC nor HTTP.
//! - [`resources`]: `oceanbase_backup_config` (and its data source).
//! - [`obshell`]: the obshell HTTP client. Knows no Terraform.
//! - [`sql`]: the optional read of the sys tenant's backup views over MySQL. Knows no Terraform.
//! - [`docgen`]: renders the Registry documentation from the schemas; used by tests and
//!   `make docs`, never by the provider binary.
//!
//! The library exists so that integration tests can drive every layer in-process.

pub mod docgen;
pub mod obshell;
pub mod provider;
pub mod resources;
pub mod server;
pub mod sql;
pub mod tf;

#[cfg(test)]
mod hostile;

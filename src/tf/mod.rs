//! The protocol-free Terraform model: values, schemas, diagnostics, and the [`ProviderHandler`]
//! contract between the plugin server (`server/`, which speaks tfplugin6) and the provider
//! (`provider/`, which knows Terraform semantics and obshell).
//!
//! Nothing here knows gRPC, msgpack or HTTP. The server decodes every `DynamicValue` into a
//! [`Value`] using the schema's [`Type`] before calling the handler, and encodes the handler's
//! [`Value`]s back. See <https://developer.hashicorp.com/terraform/plugin/terraform-plugin-protocol>.

mod diag;
mod schema;
mod value;

use std::collections::BTreeMap;
use std::future::Future;

pub use diag::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
pub use schema::{Attribute, AttributeKind, Block, Nesting, Presence, Schema};
pub use value::{Number, Type, Value};

/// Everything the provider serves, as `GetProviderSchema` reports it.
#[derive(Debug, Clone)]
pub struct ProviderSchemas {
    /// The `provider "oceanbase" {}` block.
    pub provider: Schema,
    /// Resource type name (`oceanbase_backup_config`) to schema.
    pub resources: BTreeMap<String, Schema>,
    /// Data source type name to schema.
    pub data_sources: BTreeMap<String, Schema>,
}

/// What Terraform tells the provider it can handle, from `ClientCapabilities`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientCapabilities {
    /// Terraform accepts deferred actions.
    pub deferral_allowed: bool,
    /// Terraform (1.11+) keeps write-only attributes out of plans and state.
    pub write_only_attributes_allowed: bool,
}

/// `ConfigureProvider`: the provider block's configuration.
#[derive(Debug, Clone)]
pub struct ConfigureRequest {
    /// The Terraform version, e.g. `1.15.0`.
    pub terraform_version: String,
    /// The configuration, conforming to the provider schema; may contain unknowns.
    pub config: Value,
}

/// `ReadResource`.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// The resource type.
    pub type_name: String,
    /// The state as last stored.
    pub current_state: Value,
    /// The provider's private data for this instance, as last returned (empty when none).
    pub private: Vec<u8>,
}

/// The answer to `ReadResource`.
#[derive(Debug, Clone)]
pub struct ReadResponse {
    /// The refreshed state; [`Value::Null`] when the object no longer exists.
    pub new_state: Value,
    /// Private data to keep with the instance.
    pub private: Vec<u8>,
    /// Diagnostics.
    pub diagnostics: Diagnostics,
}

/// `PlanResourceChange`.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The resource type.
    pub type_name: String,
    /// The state before the change; [`Value::Null`] for a create.
    pub prior_state: Value,
    /// Terraform's proposal: the config merged with prior computed values.
    /// [`Value::Null`] for a destroy.
    pub proposed_new_state: Value,
    /// The configuration; [`Value::Null`] for a destroy.
    pub config: Value,
    /// Private data from the prior state.
    pub prior_private: Vec<u8>,
    /// Terraform's capabilities.
    pub client_capabilities: ClientCapabilities,
}

/// The answer to `PlanResourceChange`.
#[derive(Debug, Clone)]
pub struct PlanResponse {
    /// The planned state.
    pub planned_state: Value,
    /// Attributes whose change forces replacement.
    pub requires_replace: Vec<AttributePath>,
    /// Private data to hand to apply.
    pub planned_private: Vec<u8>,
    /// Diagnostics.
    pub diagnostics: Diagnostics,
}

/// `ApplyResourceChange`.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The resource type.
    pub type_name: String,
    /// The state before the change; [`Value::Null`] for a create.
    pub prior_state: Value,
    /// The planned state; [`Value::Null`] for a destroy.
    pub planned_state: Value,
    /// The configuration; [`Value::Null`] for a destroy.
    pub config: Value,
    /// Private data from the plan.
    pub planned_private: Vec<u8>,
}

/// The answer to `ApplyResourceChange`.
#[derive(Debug, Clone)]
pub struct ApplyResponse {
    /// The new state; [`Value::Null`] after a destroy.
    pub new_state: Value,
    /// Private data to keep with the instance.
    pub private: Vec<u8>,
    /// Diagnostics.
    pub diagnostics: Diagnostics,
}

/// `ImportResourceState`.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The resource type.
    pub type_name: String,
    /// The id the user gave (`terraform import ADDR ID`, or `import { id = ... }`).
    pub id: String,
}

/// One object an import produced.
#[derive(Debug, Clone)]
pub struct ImportedResource {
    /// The resource type.
    pub type_name: String,
    /// The state to read next.
    pub state: Value,
    /// Private data.
    pub private: Vec<u8>,
}

/// The answer to `ImportResourceState`.
#[derive(Debug, Clone)]
pub struct ImportResponse {
    /// The imported objects (one, for this provider, unless there are errors).
    pub imported: Vec<ImportedResource>,
    /// Diagnostics.
    pub diagnostics: Diagnostics,
}

/// `ReadDataSource`.
#[derive(Debug, Clone)]
pub struct ReadDataSourceRequest {
    /// The data source type.
    pub type_name: String,
    /// The configuration.
    pub config: Value,
}

/// The answer to `ReadDataSource`.
#[derive(Debug, Clone)]
pub struct ReadDataSourceResponse {
    /// The data source's state.
    pub state: Value,
    /// Diagnostics.
    pub diagnostics: Diagnostics,
}

/// The provider as the plugin server sees it. The server owns the protocol (handshake, gRPC,
/// codec); the handler owns Terraform semantics. Every method gets values already decoded with
/// the schema's types, and returns values that conform to them.
///
/// Futures are `Send` because tonic runs them on a multi-threaded runtime.
pub trait ProviderHandler: Send + Sync + 'static {
    /// The schemas, computed once; the server caches them and derives every [`Type`] from them.
    fn schemas(&self) -> ProviderSchemas;

    /// `ValidateProviderConfig`: static checks; no network.
    fn validate_provider_config(&self, config: &Value) -> Diagnostics;

    /// `ConfigureProvider`: remember the configuration; no network.
    fn configure(&self, request: ConfigureRequest) -> impl Future<Output = Diagnostics> + Send;

    /// `ValidateResourceConfig`: static checks of one resource's configuration; no network.
    /// `capabilities` say whether this Terraform supports write-only attributes.
    fn validate_resource_config(
        &self,
        type_name: &str,
        config: &Value,
        capabilities: ClientCapabilities,
    ) -> Diagnostics;

    /// `ValidateDataResourceConfig`.
    fn validate_data_source_config(&self, type_name: &str, config: &Value) -> Diagnostics;

    /// `UpgradeResourceState`: turn stored state JSON of schema `version` into a value of the
    /// current schema.
    fn upgrade_resource_state(
        &self,
        type_name: &str,
        version: i64,
        raw_state: &serde_json::Value,
    ) -> Result<Value, Diagnostics>;

    /// `ReadResource`.
    fn read_resource(&self, request: ReadRequest) -> impl Future<Output = ReadResponse> + Send;

    /// `PlanResourceChange`.
    fn plan_resource_change(
        &self,
        request: PlanRequest,
    ) -> impl Future<Output = PlanResponse> + Send;

    /// `ApplyResourceChange`.
    fn apply_resource_change(
        &self,
        request: ApplyRequest,
    ) -> impl Future<Output = ApplyResponse> + Send;

    /// `ImportResourceState`.
    fn import_resource_state(
        &self,
        request: ImportRequest,
    ) -> impl Future<Output = ImportResponse> + Send;

    /// `ReadDataSource`.
    fn read_data_source(
        &self,
        request: ReadDataSourceRequest,
    ) -> impl Future<Output = ReadDataSourceResponse> + Send;

    /// `StopProvider`: cancel in-flight waits and return at once.
    fn stop(&self);
}

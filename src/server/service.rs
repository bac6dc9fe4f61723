//! The tfplugin6 `Provider` gRPC service: decodes each request into the `tf` model, calls the
//! [`tf::ProviderHandler`], and encodes the answer. Schemas are asked of the handler once and
//! every value's [`tf::Type`] is derived from them.
//!
//! Protocol reference: <https://developer.hashicorp.com/terraform/plugin/terraform-plugin-protocol>.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use tonic::{Request, Response, Status};

use super::pb::tfplugin6 as pb;
use super::value;
use crate::tf;

/// The `Provider` service around a handler.
pub(crate) struct ProviderService<P> {
    handler: Arc<P>,
    schemas: OnceLock<Schemas>,
}

/// What the handler's schemas imply, computed on first use (not before the handshake).
struct Schemas {
    provider_type: tf::Type,
    resource_types: BTreeMap<String, tf::Type>,
    data_source_types: BTreeMap<String, tf::Type>,
    response: pb::get_provider_schema::Response,
    metadata: pb::get_metadata::Response,
}

impl<P: tf::ProviderHandler> ProviderService<P> {
    /// A service answering with `handler`.
    pub(crate) fn new(handler: Arc<P>) -> Self {
        ProviderService {
            handler,
            schemas: OnceLock::new(),
        }
    }

    fn schemas(&self) -> &Schemas {
        self.schemas
            .get_or_init(|| Schemas::new(self.handler.schemas()))
    }

    fn resource_type(&self, type_name: &str) -> Result<&tf::Type, Box<tf::Diagnostic>> {
        self.schemas()
            .resource_types
            .get(type_name)
            .ok_or_else(|| Box::new(unknown_type("resource", type_name)))
    }

    fn data_source_type(&self, type_name: &str) -> Result<&tf::Type, Box<tf::Diagnostic>> {
        self.schemas()
            .data_source_types
            .get(type_name)
            .ok_or_else(|| Box::new(unknown_type("data source", type_name)))
    }
}

impl Schemas {
    fn new(schemas: tf::ProviderSchemas) -> Self {
        let server_capabilities = Some(server_capabilities());
        let metadata = pb::get_metadata::Response {
            server_capabilities,
            diagnostics: Vec::new(),
            data_sources: schemas
                .data_sources
                .keys()
                .map(|type_name| pb::get_metadata::DataSourceMetadata {
                    type_name: type_name.clone(),
                })
                .collect(),
            resources: schemas
                .resources
                .keys()
                .map(|type_name| pb::get_metadata::ResourceMetadata {
                    type_name: type_name.clone(),
                })
                .collect(),
        };
        let response = pb::get_provider_schema::Response {
            provider: Some(schema_to_pb(&schemas.provider)),
            resource_schemas: schemas
                .resources
                .iter()
                .map(|(name, schema)| (name.clone(), schema_to_pb(schema)))
                .collect(),
            data_source_schemas: schemas
                .data_sources
                .iter()
                .map(|(name, schema)| (name.clone(), schema_to_pb(schema)))
                .collect(),
            diagnostics: Vec::new(),
            provider_meta: None,
            server_capabilities,
        };
        let types = |schemas: &BTreeMap<String, tf::Schema>| {
            schemas
                .iter()
                .map(|(name, schema)| (name.clone(), schema.block.value_type()))
                .collect()
        };
        Schemas {
            provider_type: schemas.provider.block.value_type(),
            resource_types: types(&schemas.resources),
            data_source_types: types(&schemas.data_sources),
            response,
            metadata,
        }
    }
}

fn server_capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        // Destroys are planned by the provider too, so it can refuse unsafe ones.
        plan_destroy: true,
        // Terraform must ask for the schema in every process: it is cheap and always current.
        get_provider_schema_optional: false,
        move_resource_state: false,
    }
}

fn unknown_type(kind: &str, type_name: &str) -> tf::Diagnostic {
    tf::Diagnostic::error(
        format!("Unknown {kind} type"),
        format!("This provider has no {kind} type {type_name:?}."),
    )
}

/// A value that cannot be decoded is Terraform's or the wire's fault, never the user's; say so.
/// Decodes a configuration of the type `value_type` (or reports why it cannot) and runs
/// `validate` on it: the shared body of the `Validate*Config` RPCs (for the provider block,
/// whose type always exists, `value_type` is `Ok`).
fn validated(
    value_type: Result<&tf::Type, Box<tf::Diagnostic>>,
    config: Option<&pb::DynamicValue>,
    what: &str,
    validate: impl FnOnce(&tf::Value) -> tf::Diagnostics,
) -> Vec<pb::Diagnostic> {
    match value_type.and_then(|value_type| decode(config, value_type, what)) {
        Ok(config) => diagnostics_to_pb(validate(&config)),
        Err(diagnostic) => one_error(*diagnostic),
    }
}

fn decode(
    dynamic_value: Option<&pb::DynamicValue>,
    value_type: &tf::Type,
    what: &str,
) -> Result<tf::Value, Box<tf::Diagnostic>> {
    let Some(dynamic_value) = dynamic_value else {
        return Ok(tf::Value::Null);
    };
    let decoded = if !dynamic_value.msgpack.is_empty() {
        value::decode_msgpack(&dynamic_value.msgpack, value_type)
    } else if !dynamic_value.json.is_empty() {
        value::decode_json(&dynamic_value.json, value_type)
    } else {
        return Ok(tf::Value::Null);
    };
    decoded.map_err(|source| {
        Box::new(tf::Diagnostic::error(
            "Invalid value from Terraform",
            format!("The provider could not decode the {what}: {source}. This is a bug in Terraform or the provider."),
        ))
    })
}

/// A value the handler built that does not fit its schema is the provider's bug; say so.
fn encode(
    value: &tf::Value,
    value_type: &tf::Type,
    what: &str,
) -> Result<pb::DynamicValue, Box<tf::Diagnostic>> {
    value::encode_msgpack(value, value_type)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|source| {
            Box::new(tf::Diagnostic::error(
                "Invalid value from the provider",
                format!("The provider produced a {what} that does not fit its schema: {source}. This is a bug in the provider."),
            ))
        })
}

fn diagnostics_to_pb(diagnostics: tf::Diagnostics) -> Vec<pb::Diagnostic> {
    diagnostics.into_iter().map(diagnostic_to_pb).collect()
}

fn diagnostic_to_pb(diagnostic: tf::Diagnostic) -> pb::Diagnostic {
    let severity = match diagnostic.severity {
        tf::Severity::Error => pb::diagnostic::Severity::Error,
        tf::Severity::Warning => pb::diagnostic::Severity::Warning,
    };
    pb::Diagnostic {
        severity: severity as i32,
        summary: diagnostic.summary,
        detail: diagnostic.detail,
        attribute: diagnostic.attribute.map(path_to_pb),
    }
}

fn one_error(diagnostic: tf::Diagnostic) -> Vec<pb::Diagnostic> {
    vec![diagnostic_to_pb(diagnostic)]
}

fn path_to_pb(path: tf::AttributePath) -> pb::AttributePath {
    use pb::attribute_path::{step::Selector, Step};
    pb::AttributePath {
        steps: path
            .0
            .into_iter()
            .map(|step| Step {
                selector: Some(match step {
                    tf::PathStep::Attribute(name) => Selector::AttributeName(name),
                    tf::PathStep::Key(key) => Selector::ElementKeyString(key),
                    tf::PathStep::Index(index) => Selector::ElementKeyInt(index),
                }),
            })
            .collect(),
    }
}

fn schema_to_pb(schema: &tf::Schema) -> pb::Schema {
    let block = &schema.block;
    let (description, description_kind) = if block.markdown_description.is_empty() {
        (block.description.clone(), pb::StringKind::Plain)
    } else {
        (block.markdown_description.clone(), pb::StringKind::Markdown)
    };
    pb::Schema {
        version: schema.version,
        block: Some(pb::schema::Block {
            version: schema.version,
            attributes: block.attributes.iter().map(attribute_to_pb).collect(),
            block_types: Vec::new(),
            description,
            description_kind: description_kind as i32,
            deprecated: block.deprecated,
        }),
    }
}

fn attribute_to_pb(attribute: &tf::Attribute) -> pb::schema::Attribute {
    let (attribute_type, nested_type) = match &attribute.kind {
        tf::AttributeKind::Type(attribute_type) => {
            (attribute_type.to_json().to_string().into_bytes(), None)
        }
        tf::AttributeKind::Nested {
            nesting,
            attributes,
        } => {
            use pb::schema::object::NestingMode;
            let nesting = match nesting {
                tf::Nesting::Single => NestingMode::Single,
                tf::Nesting::List => NestingMode::List,
                tf::Nesting::Set => NestingMode::Set,
                tf::Nesting::Map => NestingMode::Map,
            };
            let object = pb::schema::Object {
                attributes: attributes.iter().map(attribute_to_pb).collect(),
                nesting: nesting as i32,
            };
            (Vec::new(), Some(object))
        }
    };
    let (required, optional, computed) = match attribute.presence {
        tf::Presence::Required => (true, false, false),
        tf::Presence::Optional => (false, true, false),
        tf::Presence::OptionalComputed => (false, true, true),
        tf::Presence::Computed => (false, false, true),
    };
    pb::schema::Attribute {
        name: attribute.name.clone(),
        r#type: attribute_type,
        nested_type,
        description: attribute.description.clone(),
        required,
        optional,
        computed,
        sensitive: attribute.sensitive,
        description_kind: pb::StringKind::Plain as i32,
        deprecated: attribute.deprecated,
        write_only: attribute.write_only,
    }
}

fn client_capabilities(capabilities: Option<pb::ClientCapabilities>) -> tf::ClientCapabilities {
    tf::ClientCapabilities {
        deferral_allowed: capabilities.is_some_and(|c| c.deferral_allowed),
        write_only_attributes_allowed: capabilities
            .is_some_and(|c| c.write_only_attributes_allowed),
    }
}

type RpcResult<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl<P: tf::ProviderHandler> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        Ok(Response::new(self.schemas().metadata.clone()))
    }

    async fn get_provider_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        Ok(Response::new(self.schemas().response.clone()))
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> RpcResult<pb::validate_provider_config::Response> {
        let request = request.into_inner();
        let diagnostics = validated(
            Ok(&self.schemas().provider_type),
            request.config.as_ref(),
            "provider configuration",
            |config| self.handler.validate_provider_config(config),
        );
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics,
        }))
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> RpcResult<pb::validate_resource_config::Response> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, "ValidateResourceConfig");
        let diagnostics = validated(
            self.resource_type(&request.type_name),
            request.config.as_ref(),
            "resource configuration",
            |config| {
                self.handler.validate_resource_config(
                    &request.type_name,
                    config,
                    client_capabilities(request.client_capabilities),
                )
            },
        );
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics,
        }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> RpcResult<pb::validate_data_resource_config::Response> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, "ValidateDataResourceConfig");
        let diagnostics = validated(
            self.data_source_type(&request.type_name),
            request.config.as_ref(),
            "data source configuration",
            |config| {
                self.handler
                    .validate_data_source_config(&request.type_name, config)
            },
        );
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics,
        }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, "UpgradeResourceState");
        let upgrade = || -> Result<pb::DynamicValue, tf::Diagnostics> {
            let value_type = self
                .resource_type(&request.type_name)
                .map_err(|d| tf::Diagnostics::from(*d))?;
            let raw_json = request
                .raw_state
                .as_ref()
                .map_or(&[][..], |raw| &raw.json[..]);
            if raw_json.is_empty() {
                return Err(tf::Diagnostic::error(
                    "Unsupported state format",
                    "The stored state is not JSON (it may be the legacy flatmap format), which this provider never wrote.",
                )
                .into());
            }
            let raw_state: serde_json::Value =
                serde_json::from_slice(raw_json).map_err(|source| {
                    tf::Diagnostic::error(
                        "Invalid stored state",
                        format!("The stored state is not valid JSON: {source}."),
                    )
                })?;
            let upgraded = self.handler.upgrade_resource_state(
                &request.type_name,
                request.version,
                &raw_state,
            )?;
            encode(&upgraded, value_type, "upgraded state").map_err(|d| tf::Diagnostics::from(*d))
        };
        let response = match upgrade() {
            Ok(upgraded_state) => pb::upgrade_resource_state::Response {
                upgraded_state: Some(upgraded_state),
                diagnostics: Vec::new(),
            },
            Err(diagnostics) => pb::upgrade_resource_state::Response {
                upgraded_state: None,
                diagnostics: diagnostics_to_pb(diagnostics),
            },
        };
        Ok(Response::new(response))
    }

    async fn get_resource_identity_schemas(
        &self,
        _request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> RpcResult<pb::get_resource_identity_schemas::Response> {
        // No resource declares an identity; an empty answer tells Terraform 1.12+ exactly that.
        Ok(Response::new(
            pb::get_resource_identity_schemas::Response::default(),
        ))
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        let request = request.into_inner();
        tracing::debug!(terraform_version = %request.terraform_version, "ConfigureProvider");
        let provider_type = &self.schemas().provider_type;
        let diagnostics = match decode(
            request.config.as_ref(),
            provider_type,
            "provider configuration",
        ) {
            Ok(config) => diagnostics_to_pb(
                self.handler
                    .configure(tf::ConfigureRequest {
                        terraform_version: request.terraform_version,
                        config,
                    })
                    .await,
            ),
            Err(diagnostic) => one_error(*diagnostic),
        };
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics,
        }))
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, "ReadResource");
        let value_type = match self.resource_type(&request.type_name) {
            Ok(value_type) => value_type,
            Err(diagnostic) => {
                return Ok(Response::new(read_failed(
                    *diagnostic,
                    request.current_state,
                    request.private,
                )))
            }
        };
        let current_state =
            match decode(request.current_state.as_ref(), value_type, "current state") {
                Ok(state) => state,
                Err(diagnostic) => {
                    return Ok(Response::new(read_failed(
                        *diagnostic,
                        request.current_state,
                        request.private,
                    )))
                }
            };
        let answer = self
            .handler
            .read_resource(tf::ReadRequest {
                type_name: request.type_name,
                current_state,
                private: request.private,
            })
            .await;
        let mut diagnostics = diagnostics_to_pb(answer.diagnostics);
        let new_state = match encode(&answer.new_state, value_type, "refreshed state") {
            Ok(state) => Some(state),
            Err(diagnostic) => {
                diagnostics.push(diagnostic_to_pb(*diagnostic));
                None
            }
        };
        Ok(Response::new(pb::read_resource::Response {
            new_state,
            diagnostics,
            private: answer.private,
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, "PlanResourceChange");
        let decoded = self
            .resource_type(&request.type_name)
            .and_then(|value_type| {
                Ok((
                    value_type,
                    decode(request.prior_state.as_ref(), value_type, "prior state")?,
                    decode(
                        request.proposed_new_state.as_ref(),
                        value_type,
                        "proposed new state",
                    )?,
                    decode(request.config.as_ref(), value_type, "configuration")?,
                ))
            });
        let (value_type, prior_state, proposed_new_state, config) = match decoded {
            Ok(decoded) => decoded,
            Err(diagnostic) => {
                return Ok(Response::new(pb::plan_resource_change::Response {
                    diagnostics: one_error(*diagnostic),
                    ..Default::default()
                }))
            }
        };
        let answer = self
            .handler
            .plan_resource_change(tf::PlanRequest {
                type_name: request.type_name,
                prior_state,
                proposed_new_state,
                config,
                prior_private: request.prior_private,
                client_capabilities: client_capabilities(request.client_capabilities),
            })
            .await;
        let mut diagnostics = diagnostics_to_pb(answer.diagnostics);
        let planned_state = match encode(&answer.planned_state, value_type, "planned state") {
            Ok(state) => Some(state),
            Err(diagnostic) => {
                diagnostics.push(diagnostic_to_pb(*diagnostic));
                None
            }
        };
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state,
            requires_replace: answer
                .requires_replace
                .into_iter()
                .map(path_to_pb)
                .collect(),
            planned_private: answer.planned_private,
            diagnostics,
        }))
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, "ApplyResourceChange");
        let decoded = self
            .resource_type(&request.type_name)
            .and_then(|value_type| {
                Ok((
                    value_type,
                    decode(request.prior_state.as_ref(), value_type, "prior state")?,
                    decode(request.planned_state.as_ref(), value_type, "planned state")?,
                    decode(request.config.as_ref(), value_type, "configuration")?,
                ))
            });
        let (value_type, prior_state, planned_state, config) = match decoded {
            Ok(decoded) => decoded,
            Err(diagnostic) => {
                return Ok(Response::new(pb::apply_resource_change::Response {
                    diagnostics: one_error(*diagnostic),
                    ..Default::default()
                }))
            }
        };
        let answer = self
            .handler
            .apply_resource_change(tf::ApplyRequest {
                type_name: request.type_name,
                prior_state,
                planned_state,
                config,
                planned_private: request.planned_private,
            })
            .await;
        let mut diagnostics = diagnostics_to_pb(answer.diagnostics);
        let new_state = match encode(&answer.new_state, value_type, "new state") {
            Ok(state) => Some(state),
            Err(diagnostic) => {
                diagnostics.push(diagnostic_to_pb(*diagnostic));
                None
            }
        };
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state,
            private: answer.private,
            diagnostics,
        }))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, "ImportResourceState");
        if let Err(diagnostic) = self.resource_type(&request.type_name) {
            return Ok(Response::new(pb::import_resource_state::Response {
                imported_resources: Vec::new(),
                diagnostics: one_error(*diagnostic),
            }));
        }
        let answer = self
            .handler
            .import_resource_state(tf::ImportRequest {
                type_name: request.type_name,
                id: request.id,
            })
            .await;
        let mut diagnostics = diagnostics_to_pb(answer.diagnostics);
        let mut imported_resources = Vec::with_capacity(answer.imported.len());
        for imported in answer.imported {
            let encoded = self
                .resource_type(&imported.type_name)
                .and_then(|value_type| encode(&imported.state, value_type, "imported state"));
            match encoded {
                Ok(state) => imported_resources.push(pb::import_resource_state::ImportedResource {
                    type_name: imported.type_name,
                    state: Some(state),
                    private: imported.private,
                }),
                Err(diagnostic) => diagnostics.push(diagnostic_to_pb(*diagnostic)),
            }
        }
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources,
            diagnostics,
        }))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        let request = request.into_inner();
        tracing::debug!(type_name = %request.type_name, "ReadDataSource");
        let decoded = self
            .data_source_type(&request.type_name)
            .and_then(|value_type| {
                Ok((
                    value_type,
                    decode(
                        request.config.as_ref(),
                        value_type,
                        "data source configuration",
                    )?,
                ))
            });
        let (value_type, config) = match decoded {
            Ok(decoded) => decoded,
            Err(diagnostic) => {
                return Ok(Response::new(pb::read_data_source::Response {
                    state: None,
                    diagnostics: one_error(*diagnostic),
                }))
            }
        };
        let answer = self
            .handler
            .read_data_source(tf::ReadDataSourceRequest {
                type_name: request.type_name,
                config,
            })
            .await;
        let mut diagnostics = diagnostics_to_pb(answer.diagnostics);
        let state = match encode(&answer.state, value_type, "data source state") {
            Ok(state) => Some(state),
            Err(diagnostic) => {
                diagnostics.push(diagnostic_to_pb(*diagnostic));
                None
            }
        };
        Ok(Response::new(pb::read_data_source::Response {
            state,
            diagnostics,
        }))
    }

    async fn stop_provider(
        &self,
        _request: Request<pb::stop_provider::Request>,
    ) -> RpcResult<pb::stop_provider::Response> {
        tracing::info!("terraform asked the provider to stop");
        self.handler.stop();
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

/// A failed read keeps the state Terraform sent, so an error never drops the resource from state.
fn read_failed(
    diagnostic: tf::Diagnostic,
    current_state: Option<pb::DynamicValue>,
    private: Vec<u8>,
) -> pb::read_resource::Response {
    pb::read_resource::Response {
        new_state: current_state,
        diagnostics: one_error(diagnostic),
        private,
    }
}

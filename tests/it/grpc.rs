//! The plugin server driven in-process by a tonic client, as Terraform drives it, around a small
//! fake handler: schemas, validation, plan, apply, read, import, data sources, stop, unknown
//! values and diagnostics with attribute paths.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use terraform_provider_oceanbase::server::testing::{self, health, plugin, tfplugin6 as pb};
use terraform_provider_oceanbase::tf::{
    self, Attribute, AttributePath, Block, Diagnostic, Diagnostics, Nesting, Presence, Schema,
    Type, Value,
};
use tokio::net::TcpListener;
use tonic::transport::Channel;

const RESOURCE: &str = "fake_thing";
const DATA_SOURCE: &str = "fake_info";

/// What the fake handler saw, for the tests to inspect.
#[derive(Default)]
struct Seen {
    stopped: AtomicBool,
    terraform_version: Mutex<Option<String>>,
    planned_deferral_allowed: Mutex<Option<bool>>,
}

struct FakeHandler(Arc<Seen>);

fn block(attributes: Vec<Attribute>) -> Block {
    Block {
        attributes,
        description: "A fake.".to_owned(),
        markdown_description: String::new(),
        deprecated: false,
    }
}

fn resource_schema() -> Schema {
    Schema {
        version: 1,
        block: block(vec![
            Attribute::new("id", Type::String, Presence::Computed, "The id."),
            Attribute::new("name", Type::String, Presence::Required, "The name."),
            Attribute::new(
                "size",
                Type::Number,
                Presence::OptionalComputed,
                "The size.",
            ),
            Attribute::new(
                "tags",
                Type::Map(Box::new(Type::String)),
                Presence::Optional,
                "Tags.",
            ),
            Attribute::nested(
                "settings",
                Nesting::Single,
                vec![
                    Attribute::new("a", Type::String, Presence::Optional, "A."),
                    Attribute::new("b", Type::Bool, Presence::Optional, "B.").sensitive(),
                ],
                Presence::Optional,
                "Settings.",
            ),
        ]),
    }
}

fn resource_type() -> Type {
    resource_schema().block.value_type()
}

fn data_source_schema() -> Schema {
    Schema {
        version: 0,
        block: block(vec![
            Attribute::new("name", Type::String, Presence::Required, "The name."),
            Attribute::new(
                "greeting",
                Type::String,
                Presence::Computed,
                "The greeting.",
            ),
        ]),
    }
}

fn provider_schema() -> Schema {
    Schema {
        version: 0,
        block: block(vec![Attribute::new(
            "endpoint",
            Type::String,
            Presence::Required,
            "The endpoint.",
        )]),
    }
}

fn with_attribute(value: &Value, name: &str, attribute: Value) -> Value {
    let Value::Object(mut attributes) = value.clone() else {
        return value.clone();
    };
    attributes.insert(name.to_owned(), attribute);
    Value::Object(attributes)
}

impl tf::ProviderHandler for FakeHandler {
    fn schemas(&self) -> tf::ProviderSchemas {
        tf::ProviderSchemas {
            provider: provider_schema(),
            resources: BTreeMap::from([(RESOURCE.to_owned(), resource_schema())]),
            data_sources: BTreeMap::from([(DATA_SOURCE.to_owned(), data_source_schema())]),
        }
    }

    fn validate_provider_config(&self, config: &Value) -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        if config.get("endpoint").and_then(Value::as_str) == Some("bad") {
            diagnostics.push(
                Diagnostic::error("Invalid endpoint", "It is bad.")
                    .at(AttributePath::root("endpoint")),
            );
        }
        diagnostics
    }

    async fn configure(&self, request: tf::ConfigureRequest) -> Diagnostics {
        *self.0.terraform_version.lock().unwrap() = Some(request.terraform_version);
        Diagnostics::new()
    }

    fn validate_resource_config(
        &self,
        _type_name: &str,
        config: &Value,
        _capabilities: tf::ClientCapabilities,
    ) -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        if let Some(Value::Map(tags)) = config.get("tags") {
            for key in tags.keys() {
                diagnostics.push(
                    Diagnostic::warning("Odd tag", format!("Tag {key} is odd."))
                        .at(AttributePath::root("tags").key(key)),
                );
            }
        }
        if config
            .get("settings")
            .and_then(|s| s.get("a"))
            .and_then(Value::as_str)
            == Some("")
        {
            diagnostics.push(
                Diagnostic::error("Empty a", "a must not be empty.")
                    .at(AttributePath::root("settings").attribute("a")),
            );
        }
        diagnostics
    }

    fn validate_data_source_config(&self, _type_name: &str, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    fn upgrade_resource_state(
        &self,
        _type_name: &str,
        version: i64,
        raw_state: &serde_json::Value,
    ) -> Result<Value, Diagnostics> {
        if version != 0 {
            return Err(Diagnostic::error("Unexpected version", version.to_string()).into());
        }
        // Version 0 called the name "title".
        let text = |name: &str| {
            raw_state
                .get(name)
                .and_then(|v| v.as_str())
                .map(Value::from)
        };
        Ok(Value::Object(BTreeMap::from([
            ("id".to_owned(), Value::from(text("id"))),
            ("name".to_owned(), Value::from(text("title"))),
            ("size".to_owned(), Value::Null),
            ("tags".to_owned(), Value::Null),
            ("settings".to_owned(), Value::Null),
        ])))
    }

    async fn read_resource(&self, request: tf::ReadRequest) -> tf::ReadResponse {
        tf::ReadResponse {
            new_state: request.current_state,
            private: request.private,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn plan_resource_change(&self, request: tf::PlanRequest) -> tf::PlanResponse {
        *self.0.planned_deferral_allowed.lock().unwrap() =
            Some(request.client_capabilities.deferral_allowed);
        let mut planned = request.proposed_new_state.clone();
        if planned.get("id").is_some_and(Value::is_null) {
            planned = with_attribute(&planned, "id", Value::Unknown);
        }
        if planned.get("size").is_some_and(Value::is_null) {
            planned = with_attribute(&planned, "size", Value::Unknown);
        }
        tf::PlanResponse {
            planned_state: planned,
            requires_replace: vec![AttributePath::root("name")],
            planned_private: b"planned".to_vec(),
            diagnostics: Diagnostics::new(),
        }
    }

    async fn apply_resource_change(&self, request: tf::ApplyRequest) -> tf::ApplyResponse {
        if request.planned_state.is_null() {
            return tf::ApplyResponse {
                new_state: Value::Null,
                private: Vec::new(),
                diagnostics: Diagnostics::new(),
            };
        }
        let state = with_attribute(&request.planned_state, "id", "id-1".into());
        let state = with_attribute(&state, "size", 3.into());
        tf::ApplyResponse {
            new_state: state,
            private: request.planned_private,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn import_resource_state(&self, request: tf::ImportRequest) -> tf::ImportResponse {
        let state = Value::Object(BTreeMap::from([
            ("id".to_owned(), Value::from(request.id)),
            ("name".to_owned(), Value::Unknown),
            ("size".to_owned(), Value::Null),
            ("tags".to_owned(), Value::Null),
            ("settings".to_owned(), Value::Null),
        ]));
        tf::ImportResponse {
            imported: vec![tf::ImportedResource {
                type_name: request.type_name,
                state,
                private: b"imported".to_vec(),
            }],
            diagnostics: Diagnostics::new(),
        }
    }

    async fn read_data_source(
        &self,
        request: tf::ReadDataSourceRequest,
    ) -> tf::ReadDataSourceResponse {
        let name = request
            .config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let state = with_attribute(&request.config, "greeting", format!("hello {name}").into());
        tf::ReadDataSourceResponse {
            state,
            diagnostics: Diagnostics::new(),
        }
    }

    fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
    }
}

/// A server around a fresh fake handler on 127.0.0.1:0, and a channel to it.
struct Harness {
    seen: Arc<Seen>,
    channel: Channel,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Harness {
    async fn start() -> Harness {
        let seen = Arc::new(Seen::default());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("bound address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(testing::serve_plaintext(
            FakeHandler(seen.clone()),
            listener,
            async move {
                let _ = stopped.await;
            },
        ));
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .expect("valid uri")
            .connect()
            .await
            .expect("connect to the in-process server");
        Harness {
            seen,
            channel,
            stop: Some(stop),
            server,
        }
    }

    fn provider(&self) -> pb::provider_client::ProviderClient<Channel> {
        pb::provider_client::ProviderClient::new(self.channel.clone())
    }

    async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server
            .await
            .expect("server task")
            .expect("server ran cleanly");
    }
}

fn dynamic(value: &Value, value_type: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: testing::encode_msgpack(value, value_type).expect("test values fit their types"),
        json: Vec::new(),
    })
}

#[track_caller]
fn decoded(dynamic_value: Option<pb::DynamicValue>, value_type: &Type) -> Value {
    let dynamic_value = dynamic_value.expect("a value");
    testing::decode_msgpack(&dynamic_value.msgpack, value_type)
        .expect("the server sent valid msgpack")
}

fn object(attributes: &[(&str, Value)]) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    )
}

fn thing(id: Value, name: Value, size: Value) -> Value {
    object(&[
        ("id", id),
        ("name", name),
        ("size", size),
        ("tags", Value::Null),
        ("settings", Value::Null),
    ])
}

/// A diagnostic as plain text: `severity summary @ path`, where path steps are `.attr`, `["key"]`, `[index]`.
fn describe(diagnostics: &[pb::Diagnostic]) -> Vec<String> {
    use pb::attribute_path::step::Selector;
    diagnostics
        .iter()
        .map(|diagnostic| {
            let severity = match pb::diagnostic::Severity::try_from(diagnostic.severity) {
                Ok(pb::diagnostic::Severity::Error) => "error",
                Ok(pb::diagnostic::Severity::Warning) => "warning",
                _ => "invalid",
            };
            let path: String = diagnostic
                .attribute
                .iter()
                .flat_map(|path| &path.steps)
                .map(|step| match &step.selector {
                    Some(Selector::AttributeName(name)) => format!(".{name}"),
                    Some(Selector::ElementKeyString(key)) => format!("[{key:?}]"),
                    Some(Selector::ElementKeyInt(index)) => format!("[{index}]"),
                    None => "?".to_owned(),
                })
                .collect();
            format!("{severity} {} @ {path}", diagnostic.summary)
        })
        .collect()
}

#[tokio::test]
async fn schema_carries_types_flags_and_capabilities() {
    let harness = Harness::start().await;
    let schema = harness
        .provider()
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema")
        .into_inner();
    assert!(schema.diagnostics.is_empty());
    let capabilities = schema.server_capabilities.expect("capabilities");
    assert!(capabilities.plan_destroy);
    assert!(!capabilities.get_provider_schema_optional);

    let resource = &schema.resource_schemas[RESOURCE];
    assert_eq!(resource.version, 1);
    let block = resource.block.as_ref().expect("block");
    let summary: Vec<String> = block
        .attributes
        .iter()
        .map(|a| {
            format!(
                "{} type={} nested={} req={} opt={} comp={} sens={}",
                a.name,
                String::from_utf8_lossy(&a.r#type),
                a.nested_type.as_ref().map_or(0, |n| n.attributes.len()),
                a.required,
                a.optional,
                a.computed,
                a.sensitive
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            r#"id type="string" nested=0 req=false opt=false comp=true sens=false"#,
            r#"name type="string" nested=0 req=true opt=false comp=false sens=false"#,
            r#"size type="number" nested=0 req=false opt=true comp=true sens=false"#,
            r#"tags type=["map","string"] nested=0 req=false opt=true comp=false sens=false"#,
            "settings type= nested=2 req=false opt=true comp=false sens=false",
        ]
    );
    let settings = block.attributes[4].nested_type.as_ref().expect("nested");
    assert_eq!(
        settings.nesting,
        pb::schema::object::NestingMode::Single as i32
    );
    assert!(settings.attributes[1].sensitive);
    assert!(schema.data_source_schemas.contains_key(DATA_SOURCE));
    assert!(schema.provider.is_some());

    let metadata = harness
        .provider()
        .get_metadata(pb::get_metadata::Request {})
        .await
        .expect("GetMetadata")
        .into_inner();
    assert_eq!(metadata.resources[0].type_name, RESOURCE);
    assert_eq!(metadata.data_sources[0].type_name, DATA_SOURCE);

    let identities = harness
        .provider()
        .get_resource_identity_schemas(pb::get_resource_identity_schemas::Request {})
        .await
        .expect("GetResourceIdentitySchemas")
        .into_inner();
    assert!(identities.identity_schemas.is_empty() && identities.diagnostics.is_empty());
    harness.finish().await;
}

#[tokio::test]
async fn validation_diagnostics_carry_attribute_paths() {
    let harness = Harness::start().await;
    let provider_type = provider_schema().block.value_type();
    let answer = harness
        .provider()
        .validate_provider_config(pb::validate_provider_config::Request {
            config: dynamic(&object(&[("endpoint", "bad".into())]), &provider_type),
        })
        .await
        .expect("ValidateProviderConfig")
        .into_inner();
    assert_eq!(
        describe(&answer.diagnostics),
        ["error Invalid endpoint @ .endpoint"]
    );

    let config = object(&[
        ("id", Value::Null),
        ("name", "n".into()),
        ("size", Value::Null),
        (
            "tags",
            Value::Map(BTreeMap::from([("k".to_owned(), Value::Unknown)])),
        ),
        (
            "settings",
            object(&[("a", "".into()), ("b", Value::Unknown)]),
        ),
    ]);
    let answer = harness
        .provider()
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: RESOURCE.to_owned(),
            config: dynamic(&config, &resource_type()),
            client_capabilities: None,
        })
        .await
        .expect("ValidateResourceConfig")
        .into_inner();
    assert_eq!(
        describe(&answer.diagnostics),
        [
            r#"warning Odd tag @ .tags["k"]"#,
            "error Empty a @ .settings.a"
        ]
    );

    let data_type = data_source_schema().block.value_type();
    let answer = harness
        .provider()
        .validate_data_resource_config(pb::validate_data_resource_config::Request {
            type_name: DATA_SOURCE.to_owned(),
            config: dynamic(
                &object(&[("name", "x".into()), ("greeting", Value::Null)]),
                &data_type,
            ),
        })
        .await
        .expect("ValidateDataResourceConfig")
        .into_inner();
    assert!(answer.diagnostics.is_empty());
    harness.finish().await;
}

#[tokio::test]
async fn unknown_types_and_undecodable_values_are_error_diagnostics() {
    let harness = Harness::start().await;
    let answer = harness
        .provider()
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "no_such_thing".to_owned(),
            config: None,
            client_capabilities: None,
        })
        .await
        .expect("ValidateResourceConfig")
        .into_inner();
    assert_eq!(
        describe(&answer.diagnostics),
        ["error Unknown resource type @ "]
    );

    // A string where an object belongs.
    let answer = harness
        .provider()
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: RESOURCE.to_owned(),
            prior_state: dynamic(&Value::Null, &resource_type()),
            proposed_new_state: dynamic(&"oops".into(), &Type::String),
            config: dynamic(&Value::Null, &resource_type()),
            prior_private: Vec::new(),
            client_capabilities: None,
        })
        .await
        .expect("PlanResourceChange")
        .into_inner();
    assert_eq!(
        describe(&answer.diagnostics),
        ["error Invalid value from Terraform @ "]
    );
    assert!(answer.diagnostics[0].detail.contains("proposed new state"));
    assert!(answer.planned_state.is_none());
    harness.finish().await;
}

#[tokio::test]
async fn plan_apply_read_round_trip_unknowns() {
    let harness = Harness::start().await;
    let provider_type = provider_schema().block.value_type();
    let configured = harness
        .provider()
        .configure_provider(pb::configure_provider::Request {
            terraform_version: "1.15.5".to_owned(),
            config: dynamic(
                &object(&[("endpoint", "http://127.0.0.1:1".into())]),
                &provider_type,
            ),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: true,
                write_only_attributes_allowed: false,
            }),
        })
        .await
        .expect("ConfigureProvider")
        .into_inner();
    assert!(configured.diagnostics.is_empty());
    assert_eq!(
        harness.seen.terraform_version.lock().unwrap().as_deref(),
        Some("1.15.5")
    );

    // Create: the name is unknown in the configuration (it comes from another resource).
    let proposed = thing(Value::Null, Value::Unknown, Value::Null);
    let plan = harness
        .provider()
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: RESOURCE.to_owned(),
            prior_state: dynamic(&Value::Null, &resource_type()),
            proposed_new_state: dynamic(&proposed, &resource_type()),
            config: dynamic(&proposed, &resource_type()),
            prior_private: Vec::new(),
            client_capabilities: Some(pb::ClientCapabilities {
                deferral_allowed: true,
                write_only_attributes_allowed: false,
            }),
        })
        .await
        .expect("PlanResourceChange")
        .into_inner();
    assert!(plan.diagnostics.is_empty());
    assert_eq!(
        *harness.seen.planned_deferral_allowed.lock().unwrap(),
        Some(true)
    );
    let planned = decoded(plan.planned_state.clone(), &resource_type());
    assert_eq!(
        planned,
        thing(Value::Unknown, Value::Unknown, Value::Unknown)
    );
    assert_eq!(plan.planned_private, b"planned");
    assert_eq!(plan.requires_replace.len(), 1);

    // Apply with the name now known.
    let planned = thing(Value::Unknown, "n".into(), Value::Unknown);
    let config = thing(Value::Null, "n".into(), Value::Null);
    let applied = harness
        .provider()
        .apply_resource_change(pb::apply_resource_change::Request {
            type_name: RESOURCE.to_owned(),
            prior_state: dynamic(&Value::Null, &resource_type()),
            planned_state: dynamic(&planned, &resource_type()),
            config: dynamic(&config, &resource_type()),
            planned_private: plan.planned_private,
        })
        .await
        .expect("ApplyResourceChange")
        .into_inner();
    assert!(applied.diagnostics.is_empty());
    let state = decoded(applied.new_state.clone(), &resource_type());
    assert_eq!(state, thing("id-1".into(), "n".into(), 3.into()));
    assert_eq!(applied.private, b"planned");

    let read = harness
        .provider()
        .read_resource(pb::read_resource::Request {
            type_name: RESOURCE.to_owned(),
            current_state: applied.new_state,
            private: applied.private,
            client_capabilities: None,
        })
        .await
        .expect("ReadResource")
        .into_inner();
    assert_eq!(decoded(read.new_state, &resource_type()), state);
    assert_eq!(read.private, b"planned");

    // Destroy: a null planned state comes back as null.
    let destroyed = harness
        .provider()
        .apply_resource_change(pb::apply_resource_change::Request {
            type_name: RESOURCE.to_owned(),
            prior_state: dynamic(&state, &resource_type()),
            planned_state: dynamic(&Value::Null, &resource_type()),
            config: dynamic(&Value::Null, &resource_type()),
            planned_private: Vec::new(),
        })
        .await
        .expect("ApplyResourceChange")
        .into_inner();
    assert_eq!(decoded(destroyed.new_state, &resource_type()), Value::Null);
    harness.finish().await;
}

#[tokio::test]
async fn import_upgrade_and_data_source() {
    let harness = Harness::start().await;
    let imported = harness
        .provider()
        .import_resource_state(pb::import_resource_state::Request {
            type_name: RESOURCE.to_owned(),
            id: "abc".to_owned(),
            client_capabilities: None,
        })
        .await
        .expect("ImportResourceState")
        .into_inner();
    assert!(imported.diagnostics.is_empty());
    let resource = &imported.imported_resources[0];
    assert_eq!(resource.type_name, RESOURCE);
    assert_eq!(resource.private, b"imported");
    assert_eq!(
        decoded(resource.state.clone(), &resource_type()),
        thing("abc".into(), Value::Unknown, Value::Null)
    );

    let upgraded = harness
        .provider()
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: RESOURCE.to_owned(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: br#"{"id":"x","title":"old"}"#.to_vec(),
                flatmap: Default::default(),
            }),
        })
        .await
        .expect("UpgradeResourceState")
        .into_inner();
    assert!(upgraded.diagnostics.is_empty());
    assert_eq!(
        decoded(upgraded.upgraded_state, &resource_type()),
        thing("x".into(), "old".into(), Value::Null)
    );
    let refused = harness
        .provider()
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: RESOURCE.to_owned(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: Vec::new(),
                flatmap: [("id".to_owned(), "x".to_owned())].into(),
            }),
        })
        .await
        .expect("UpgradeResourceState")
        .into_inner();
    assert_eq!(
        describe(&refused.diagnostics),
        ["error Unsupported state format @ "]
    );

    let data_type = data_source_schema().block.value_type();
    let read = harness
        .provider()
        .read_data_source(pb::read_data_source::Request {
            type_name: DATA_SOURCE.to_owned(),
            config: dynamic(
                &object(&[("name", "world".into()), ("greeting", Value::Null)]),
                &data_type,
            ),
            client_capabilities: None,
        })
        .await
        .expect("ReadDataSource")
        .into_inner();
    assert_eq!(
        decoded(read.state, &data_type),
        object(&[("name", "world".into()), ("greeting", "hello world".into())])
    );
    harness.finish().await;
}

#[tokio::test]
async fn stop_provider_reaches_the_handler() {
    let harness = Harness::start().await;
    let answer = harness
        .provider()
        .stop_provider(pb::stop_provider::Request {})
        .await
        .expect("StopProvider")
        .into_inner();
    assert!(answer.error.is_empty());
    assert!(harness.seen.stopped.load(Ordering::SeqCst));
    harness.finish().await;
}

#[tokio::test]
async fn rpcs_we_do_not_serve_are_unimplemented() {
    let harness = Harness::start().await;
    let mut grpc = tonic::client::Grpc::new(harness.channel.clone());
    grpc.ready().await.expect("channel ready");
    for method in [
        "/tfplugin6.Provider/GetFunctions",
        "/tfplugin6.Provider/ValidateEphemeralResourceConfig",
        "/tfplugin6.Provider/MoveResourceState",
        "/plugin.GRPCBroker/StartStream",
    ] {
        grpc.ready().await.expect("channel ready");
        let status = grpc
            .unary::<(), (), _>(
                tonic::Request::new(()),
                tonic::codegen::http::uri::PathAndQuery::from_static(method),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .expect_err(method);
        assert_eq!(status.code(), tonic::Code::Unimplemented, "{method}");
    }
    harness.finish().await;
}

#[tokio::test]
async fn health_stdio_and_controller_shutdown() {
    let harness = Harness::start().await;
    let mut health = health::health_client::HealthClient::new(harness.channel.clone());
    let status = health
        .check(health::HealthCheckRequest {
            service: "plugin".to_owned(),
        })
        .await
        .expect("Health.Check")
        .into_inner()
        .status;
    assert_eq!(
        status,
        health::health_check_response::ServingStatus::Serving as i32
    );

    // go-plugin's client opens the stdio stream first; it must stay open until shutdown.
    let mut stdio = plugin::grpc_stdio_client::GrpcStdioClient::new(harness.channel.clone())
        .stream_stdio(())
        .await
        .expect("StreamStdio")
        .into_inner();
    plugin::grpc_controller_client::GrpcControllerClient::new(harness.channel.clone())
        .shutdown(plugin::Empty {})
        .await
        .expect("Shutdown");
    assert!(stdio
        .message()
        .await
        .expect("stream ends cleanly")
        .is_none());
    // The server stops by itself, without the harness's own stop signal.
    let Harness { server, stop, .. } = harness;
    server
        .await
        .expect("server task")
        .expect("server ran cleanly");
    drop(stop);
}

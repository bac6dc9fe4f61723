//! The `provider` component: the provider's schema and configuration, and the
//! [`ProviderHandler`](crate::tf::ProviderHandler) the plugin server calls. It dispatches each
//! request to the resource in [`crate::resources`]; it speaks neither gRPC nor HTTP.

pub mod config;
pub mod sql_config;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;

use crate::resources::backup_config::adoption::SucceededCreates;
use crate::resources::backup_config::ops::{self, Session};
use crate::resources::backup_config::{schema::backup_config_schema, validate_config_value};
use crate::resources::BACKUP_CONFIG_TYPE;
use crate::tf::{
    ApplyRequest, ApplyResponse, ConfigureRequest, Diagnostic, Diagnostics, ImportRequest,
    ImportResponse, PlanRequest, PlanResponse, ProviderHandler, ProviderSchemas,
    ReadDataSourceRequest, ReadDataSourceResponse, ReadRequest, ReadResponse, Value,
};

use config::{
    provider_config_from_block, provider_schema, validate_provider_block, ProviderConfig,
};

/// The provider. One instance serves one plugin process (Terraform starts a process per run and
/// per provider alias).
pub struct Provider {
    version: String,
    configured: RwLock<Option<Arc<Configured>>>,
    /// Creates that a Read of this process found succeeded after their apply stopped following
    /// them; outlives a second ConfigureProvider, like the process.
    succeeded_creates: SucceededCreates,
}

/// What ConfigureProvider established.
struct Configured {
    /// The client and cancellation token; `None` when a value was unknown at configure time.
    session: Option<Session>,
    /// Cancelled by StopProvider; every wait of this configuration watches it.
    cancel: CancellationToken,
}

/// Builds the obshell client for a configuration. No network call is made.
fn build_session(
    config: &ProviderConfig,
    cancel: &CancellationToken,
    succeeded_creates: &SucceededCreates,
) -> Result<Session, Diagnostics> {
    let mut builder = crate::obshell::Client::builder(config.base_url.clone())
        .password(crate::obshell::Password::new(config.password.clone()))
        .request_timeout(config.request_timeout)
        .unreachable_limit(config.unreachable_timeout)
        .max_parallel_requests(config.max_parallel_requests);
    if let Some(pem) = &config.ca_certificate_pem {
        builder = builder.ca_certificate_pem(pem.clone().into_bytes());
    }
    if let Some((certificate, key)) = &config.client_identity_pem {
        builder =
            builder.client_identity_pem(certificate.clone().into_bytes(), key.clone().into_bytes());
    }
    let client = builder.build().map_err(|error| {
        Diagnostics::from(Diagnostic::error(
            "Invalid provider configuration",
            format!("The obshell client for {} cannot be built: {error}. Check ca_certificate, client_certificate and client_key.", config.base_url),
        ))
    })?;
    Ok(Session {
        client,
        cancel: cancel.clone(),
        endpoint: config.base_url.clone(),
        sql: config.sql.clone().map(crate::sql::SqlClient::new),
        succeeded_creates: succeeded_creates.clone(),
    })
}

impl Provider {
    /// A provider reporting `version` (the release version, or `"test"` in tests).
    pub fn new(version: &str) -> Provider {
        Provider {
            version: version.to_owned(),
            configured: RwLock::new(None),
            succeeded_creates: SucceededCreates::default(),
        }
    }

    /// The version this provider reports.
    pub fn version(&self) -> &str {
        &self.version
    }

    fn configured(&self) -> Option<Arc<Configured>> {
        match self.configured.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

fn unknown_type(type_name: &str) -> Diagnostics {
    Diagnostics::from(Diagnostic::error(
        "Unknown resource type",
        format!("This provider has no resource or data source called {type_name:?}."),
    ))
}

impl ProviderHandler for Provider {
    fn schemas(&self) -> ProviderSchemas {
        ProviderSchemas {
            provider: provider_schema(),
            resources: BTreeMap::from([(BACKUP_CONFIG_TYPE.to_owned(), backup_config_schema())]),
            data_sources: BTreeMap::from([(
                crate::resources::backup_config_data::BACKUP_CONFIG_DATA_TYPE.to_owned(),
                crate::resources::backup_config_data::backup_config_data_schema(),
            )]),
        }
    }

    fn validate_provider_config(&self, config: &Value) -> Diagnostics {
        validate_provider_block(config)
    }

    async fn configure(&self, request: ConfigureRequest) -> Diagnostics {
        let environment = |name: &str| std::env::var(name).ok();
        let (config, diagnostics) = match provider_config_from_block(&request.config, environment) {
            Ok(config) => (config, Diagnostics::new()),
            Err(diagnostics) => return diagnostics,
        };
        tracing::info!(
            terraform_version = %request.terraform_version,
            endpoint = config.as_ref().map(|c| c.base_url.as_str()).unwrap_or("<unknown>"),
            "provider configured"
        );
        let cancel = CancellationToken::new();
        let session = match &config {
            Some(config) => match build_session(config, &cancel, &self.succeeded_creates) {
                Ok(session) => Some(session),
                Err(diagnostics) => return diagnostics,
            },
            None => None,
        };
        let configured = Arc::new(Configured { session, cancel });
        match self.configured.write() {
            Ok(mut guard) => *guard = Some(configured),
            Err(poisoned) => *poisoned.into_inner() = Some(configured),
        }
        diagnostics
    }

    fn validate_resource_config(
        &self,
        type_name: &str,
        config: &Value,
        capabilities: crate::tf::ClientCapabilities,
    ) -> Diagnostics {
        if type_name != BACKUP_CONFIG_TYPE {
            return unknown_type(type_name);
        }
        validate_config_value(config, capabilities)
    }

    fn validate_data_source_config(&self, type_name: &str, _config: &Value) -> Diagnostics {
        if type_name != crate::resources::backup_config_data::BACKUP_CONFIG_DATA_TYPE {
            return unknown_type(type_name);
        }
        Diagnostics::new()
    }

    fn upgrade_resource_state(
        &self,
        type_name: &str,
        version: i64,
        raw_state: &serde_json::Value,
    ) -> Result<Value, Diagnostics> {
        if type_name != BACKUP_CONFIG_TYPE {
            return Err(unknown_type(type_name));
        }
        if version != 0 {
            return Err(Diagnostics::from(Diagnostic::error(
                "Unsupported state version",
                format!("The stored state has schema version {version}, but this provider knows only version 0. Use the provider version that wrote it."),
            )));
        }
        crate::resources::backup_config::state_from_json(raw_state)
    }

    async fn read_resource(&self, request: ReadRequest) -> ReadResponse {
        if request.type_name != BACKUP_CONFIG_TYPE {
            return ReadResponse {
                new_state: request.current_state,
                private: request.private,
                diagnostics: unknown_type(&request.type_name),
            };
        }
        let configured = self.configured();
        ops::read(
            configured.as_ref().and_then(|c| c.session.as_ref()),
            request,
        )
        .await
    }

    async fn plan_resource_change(&self, request: PlanRequest) -> PlanResponse {
        if request.type_name != BACKUP_CONFIG_TYPE {
            return PlanResponse {
                planned_state: request.proposed_new_state,
                requires_replace: Vec::new(),
                planned_private: request.prior_private,
                diagnostics: unknown_type(&request.type_name),
            };
        }
        let configured = self.configured();
        ops::plan(
            configured.as_ref().and_then(|c| c.session.as_ref()),
            request,
        )
        .await
    }

    async fn apply_resource_change(&self, request: ApplyRequest) -> ApplyResponse {
        if request.type_name != BACKUP_CONFIG_TYPE {
            return ApplyResponse {
                new_state: request.prior_state,
                private: request.planned_private,
                diagnostics: unknown_type(&request.type_name),
            };
        }
        let configured = self.configured();
        ops::apply(
            configured.as_ref().and_then(|c| c.session.as_ref()),
            request,
        )
        .await
    }

    async fn import_resource_state(&self, request: ImportRequest) -> ImportResponse {
        if request.type_name != BACKUP_CONFIG_TYPE {
            return ImportResponse {
                imported: Vec::new(),
                diagnostics: unknown_type(&request.type_name),
            };
        }
        let configured = self.configured();
        ops::import(
            configured.as_ref().and_then(|c| c.session.as_ref()),
            request,
        )
        .await
    }

    async fn read_data_source(&self, request: ReadDataSourceRequest) -> ReadDataSourceResponse {
        let configured = self.configured();
        crate::resources::backup_config_data::read(
            configured.as_ref().and_then(|c| c.session.as_ref()),
            request,
        )
        .await
    }

    fn stop(&self) {
        if let Some(configured) = self.configured() {
            configured.cancel.cancel();
        }
    }
}

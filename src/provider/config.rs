//! The `provider "oceanbase" {}` block: schema, static validation, and the validated
//! [`ProviderConfig`] that ConfigureProvider keeps. Nothing here touches the network.

use std::fmt;
use std::time::Duration;

use crate::resources::backup_config::duration::parse_timeout;
use crate::tf::{
    Attribute, AttributePath, Block, Diagnostic, Diagnostics, Presence, Schema, Type, Value,
};

/// The environment variable read when `endpoint` is not set.
pub const ENDPOINT_ENV: &str = "OCEANBASE_ENDPOINT";
/// The environment variable read when `password` is not set.
pub const PASSWORD_ENV: &str = "OCEANBASE_PASSWORD";
/// The HTTP request timeout when `request_timeout` is not set.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long obshell may fail to answer the polls of a running task when `unreachable_timeout`
/// is not set.
pub const DEFAULT_UNREACHABLE_TIMEOUT: Duration = crate::obshell::DEFAULT_UNREACHABLE_LIMIT;
/// The environment variable read when `max_parallel_requests` is not set.
pub const MAX_PARALLEL_REQUESTS_ENV: &str = "OCEANBASE_MAX_PARALLEL_REQUESTS";
pub use crate::obshell::{DEFAULT_MAX_PARALLEL_REQUESTS, MAX_PARALLEL_REQUESTS_LIMIT};

/// The provider block's schema.
pub fn provider_schema() -> Schema {
    use Presence::Optional;
    Schema {
        version: 0,
        block: Block {
            attributes: vec![
                Attribute::new(
                    "endpoint",
                    Type::String,
                    Optional,
                    "obshell's address: an http:// or https:// URL without a path, or host:port (http). Falls back to the OCEANBASE_ENDPOINT environment variable.",
                ),
                Attribute::new(
                    "password",
                    Type::String,
                    Optional,
                    "The root@sys password obshell authenticates requests with. Falls back to the OCEANBASE_PASSWORD environment variable.",
                )
                .sensitive(),
                Attribute::new(
                    "ca_certificate",
                    Type::String,
                    Optional,
                    "PEM certificate(s) of the certificate authority that signed obshell's https certificate, when it is not publicly trusted.",
                ),
                Attribute::new(
                    "client_certificate",
                    Type::String,
                    Optional,
                    "PEM client certificate for obshell's mutual TLS; set together with client_key.",
                ),
                Attribute::new(
                    "client_key",
                    Type::String,
                    Optional,
                    "PEM private key of client_certificate.",
                )
                .sensitive(),
                Attribute::new(
                    "request_timeout",
                    Type::String,
                    Optional,
                    "The time limit of one HTTP request to obshell, a Go duration such as \"30s\" (the default). Waiting for obshell's tasks is limited by the resource's timeouts instead.",
                ),
                Attribute::new(
                    "unreachable_timeout",
                    Type::String,
                    Optional,
                    "How long an apply keeps polling a running obshell task while obshell does not answer, a Go duration such as \"5m\" (the default). Then the apply ends with an error that says since when obshell has not answered and that the task may still be running there.",
                ),
                Attribute::new(
                    "max_parallel_requests",
                    Type::Number,
                    Optional,
                    "The most requests sent to obshell at once, and so the most connections open to it, from 1 to 64 (default 16). Reads of different tenants run in parallel up to this bound; lower it to spare a busy cluster, raise it for many tenants behind a slow network. Falls back to the OCEANBASE_MAX_PARALLEL_REQUESTS environment variable.",
                ),
            ]
            .into_iter()
            .chain(super::sql_config::sql_attributes())
            .collect(),
            description: "Manages the backup configuration of self-hosted OceanBase clusters through obshell. Use one provider alias per cluster.".to_owned(),
            markdown_description: "Manages the backup configuration of self-hosted OceanBase clusters through obshell. Use one provider alias per cluster.".to_owned(),
            deprecated: false,
        },
    }
}

/// A validated provider configuration. `Debug` hides the password and the client key.
#[derive(Clone)]
pub struct ProviderConfig {
    /// obshell's base URL, such as `http://10.0.0.1:2886`, without a trailing slash.
    pub base_url: String,
    /// The root@sys password.
    pub password: String,
    /// PEM CA certificate(s).
    pub ca_certificate_pem: Option<String>,
    /// PEM client certificate and key.
    pub client_identity_pem: Option<(String, String)>,
    /// The per-request HTTP timeout.
    pub request_timeout: Duration,
    /// How long the polls of a running DAG may keep failing.
    pub unreachable_timeout: Duration,
    /// The optional SQL read (`sql_endpoint`); `None` without it.
    pub sql: Option<crate::sql::SqlSettings>,
    /// The bound on requests in flight to obshell.
    pub max_parallel_requests: usize,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("base_url", &self.base_url)
            .field("ca_certificate", &self.ca_certificate_pem.is_some())
            .field("client_identity", &self.client_identity_pem.is_some())
            .field("request_timeout", &self.request_timeout)
            .field("unreachable_timeout", &self.unreachable_timeout)
            .field("sql", &self.sql)
            .field("max_parallel_requests", &self.max_parallel_requests)
            .finish_non_exhaustive()
    }
}

/// Why an endpoint was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Empty.
    #[error("the endpoint is empty")]
    Empty,
    /// A scheme other than http or https.
    #[error("the endpoint must use http:// or https://, or be host:port")]
    Scheme,
    /// A path, query or fragment after the address.
    #[error(
        "the endpoint must not have a path, query or fragment: give only scheme, host and port"
    )]
    Path,
    /// User information in the URL.
    #[error("the endpoint must not contain user information; set the password attribute instead")]
    UserInfo,
    /// A missing or malformed host or port.
    #[error("the endpoint needs a host and, for host:port, a port from 1 to 65535")]
    HostPort,
}

fn check_authority(authority: &str, port_required: bool) -> Result<(), EndpointError> {
    if authority.contains('@') {
        return Err(EndpointError::UserInfo);
    }
    if authority.chars().any(|c| c.is_whitespace()) {
        return Err(EndpointError::HostPort);
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(EndpointError::HostPort)?;
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(EndpointError::HostPort);
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(EndpointError::HostPort)?),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || (host.contains(':') && !authority.starts_with('[')) {
        return Err(EndpointError::HostPort);
    }
    match port {
        Some(port) => {
            let number: u16 = port.parse().map_err(|_| EndpointError::HostPort)?;
            if number == 0 {
                return Err(EndpointError::HostPort);
            }
        }
        None if port_required => return Err(EndpointError::HostPort),
        None => {}
    }
    Ok(())
}

/// Turns an endpoint as configured into obshell's base URL: `http://h:p` or `https://h[:p]`
/// stay as they are (a single trailing `/` is dropped), `h:p` becomes `http://h:p`.
pub fn parse_endpoint(text: &str) -> Result<String, EndpointError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(EndpointError::Empty);
    }
    if let Some((scheme, rest)) = text.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(EndpointError::Scheme);
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(EndpointError::Path);
        }
        check_authority(authority, false)?;
        return Ok(format!("{scheme}://{authority}"));
    }
    if text.contains(['/', '?', '#']) {
        return Err(EndpointError::Scheme);
    }
    check_authority(text, true)?;
    Ok(format!("http://{text}"))
}

/// The endpoint as it may appear in a diagnostic: anything between `://` (or the start) and the
/// last `@` is user information, possibly a password, and is replaced by `***`. The last `@` of
/// the whole text counts, because a password may itself contain `/`, `?`, `#` or `@`.
fn redacted_endpoint(text: &str) -> String {
    let (prefix, rest) = match text.find("://") {
        Some(at) => text.split_at(at + 3),
        None => ("", text),
    };
    match rest.rfind('@') {
        Some(at) => format!("{prefix}***{}", &rest[at..]),
        None => text.to_owned(),
    }
}

/// The sentence of an endpoint error that names the value, never its user information: for
/// [`EndpointError::UserInfo`] the value is left out altogether.
fn endpoint_shown(error: &EndpointError, endpoint: &str) -> String {
    if *error == EndpointError::UserInfo {
        String::new()
    } else {
        format!("; got {:?}", redacted_endpoint(endpoint))
    }
}

fn known_string<'a>(config: &'a Value, name: &str) -> Option<&'a str> {
    config.get(name).and_then(Value::as_str)
}

fn is_unknown(config: &Value, name: &str) -> bool {
    config.get(name).is_some_and(Value::is_unknown)
}

/// The rule for `max_parallel_requests`, as the error says it.
fn parallel_requests_rule() -> String {
    format!("must be a whole number from 1 to {MAX_PARALLEL_REQUESTS_LIMIT}")
}

/// A configured `max_parallel_requests`: `Ok(None)` when null or unknown.
fn max_parallel_requests(config: &Value) -> Result<Option<usize>, Diagnostic> {
    let Some(value) = config.get("max_parallel_requests") else {
        return Ok(None);
    };
    if value.is_null() || value.is_unknown() {
        return Ok(None);
    }
    value
        .as_number()
        .and_then(|number| number.as_i64())
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| (1..=MAX_PARALLEL_REQUESTS_LIMIT).contains(n))
        .map(Some)
        .ok_or_else(|| {
            let shown = value
                .as_number()
                .map_or_else(|| "a non-number".to_owned(), |n| n.to_string());
            Diagnostic::error(
                "Invalid max_parallel_requests",
                format!(
                    "max_parallel_requests {}; got {shown}.",
                    parallel_requests_rule()
                ),
            )
            .at(AttributePath::root("max_parallel_requests"))
        })
}

/// `OCEANBASE_MAX_PARALLEL_REQUESTS` when set and not empty.
fn max_parallel_requests_from_environment(
    environment: &impl Fn(&str) -> Option<String>,
) -> Result<Option<usize>, Diagnostic> {
    let Some(text) = environment(MAX_PARALLEL_REQUESTS_ENV).filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_PARALLEL_REQUESTS_LIMIT).contains(n))
        .map(Some)
        .ok_or_else(|| {
            Diagnostic::error(
                "Invalid max_parallel_requests",
                format!(
                    "The {MAX_PARALLEL_REQUESTS_ENV} environment variable (read because max_parallel_requests is not set) {}; got {:?}.",
                    parallel_requests_rule(),
                    text.chars().take(40).collect::<String>()
                ),
            )
            .at(AttributePath::root("max_parallel_requests"))
        })
}

/// Static checks of the provider block: only what is written in it (the environment is read by
/// ConfigureProvider). Unknown values are skipped.
pub fn validate_provider_block(config: &Value) -> Diagnostics {
    let mut diagnostics = super::sql_config::validate_sql_block(config);
    if let Err(error) = max_parallel_requests(config) {
        diagnostics.push(error);
    }
    if let Some(endpoint) = known_string(config, "endpoint") {
        if let Err(error) = parse_endpoint(endpoint) {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid endpoint",
                    format!(
                        "{error}, for example \"http://10.0.0.1:2886\" or \"10.0.0.1:2886\"{}.",
                        endpoint_shown(&error, endpoint)
                    ),
                )
                .at(AttributePath::root("endpoint")),
            );
        }
    }
    for name in ["request_timeout", "unreachable_timeout"] {
        if let Some(timeout) = known_string(config, name) {
            if let Err(error) = parse_timeout(timeout) {
                diagnostics.push(
                    Diagnostic::error(format!("Invalid {name}"), format!("{error}."))
                        .at(AttributePath::root(name)),
                );
            }
        }
    }
    let has_certificate = config
        .get("client_certificate")
        .is_some_and(|v| !v.is_null());
    let has_key = config.get("client_key").is_some_and(|v| !v.is_null());
    if has_certificate != has_key {
        let missing = if has_certificate {
            "client_key"
        } else {
            "client_certificate"
        };
        diagnostics.push(
            Diagnostic::error(
                "Incomplete client certificate",
                "client_certificate and client_key must be set together for mutual TLS.",
            )
            .at(AttributePath::root(missing)),
        );
    }
    diagnostics
}

/// What ConfigureProvider makes of the block: a configuration, or `None` when a value it needs
/// is unknown (Terraform then plans without the provider being usable).
pub fn provider_config_from_block(
    config: &Value,
    environment: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProviderConfig>, Diagnostics> {
    let mut diagnostics = validate_provider_block(config);
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    if super::sql_config::sql_unknown(config) {
        return Ok(None);
    }
    if [
        "endpoint",
        "password",
        "ca_certificate",
        "client_certificate",
        "client_key",
        "request_timeout",
        "unreachable_timeout",
        "max_parallel_requests",
    ]
    .iter()
    .any(|name| is_unknown(config, name))
    {
        return Ok(None);
    }
    let endpoint = known_string(config, "endpoint")
        .map(str::to_owned)
        .or_else(|| environment(ENDPOINT_ENV).filter(|value| !value.is_empty()));
    let base_url = match endpoint {
        None => {
            diagnostics.push(
                Diagnostic::error(
                    "Missing obshell endpoint",
                    format!("Set endpoint in the provider block or the {ENDPOINT_ENV} environment variable, for example \"http://10.0.0.1:2886\"."),
                )
                .at(AttributePath::root("endpoint")),
            );
            None
        }
        Some(endpoint) => match parse_endpoint(&endpoint) {
            Ok(url) => Some(url),
            Err(error) => {
                diagnostics.push(
                    Diagnostic::error(
                        "Invalid endpoint",
                        format!(
                            "{error} (endpoint or {ENDPOINT_ENV}){}.",
                            endpoint_shown(&error, &endpoint)
                        ),
                    )
                    .at(AttributePath::root("endpoint")),
                );
                None
            }
        },
    };
    // An empty OCEANBASE_PASSWORD is a variable left unset by mistake (`export
    // OCEANBASE_PASSWORD=$UNSET_VAR`), not a choice: it counts as missing, like an empty
    // OCEANBASE_ENDPOINT. An empty `password` written in the block is taken as written.
    let password = known_string(config, "password")
        .map(str::to_owned)
        .or_else(|| environment(PASSWORD_ENV).filter(|value| !value.is_empty()));
    if password.is_none() {
        let empty_variable = environment(PASSWORD_ENV).is_some_and(|value| value.is_empty());
        diagnostics.push(
            Diagnostic::error(
                "Missing obshell password",
                format!(
                    "Set password in the provider block or the {PASSWORD_ENV} environment variable{}: obshell authenticates requests with the root@sys password.",
                    if empty_variable { " (it is set, but empty)" } else { "" }
                ),
            )
            .at(AttributePath::root("password")),
        );
    }
    let request_timeout = known_string(config, "request_timeout")
        .and_then(|text| parse_timeout(text).ok())
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT);
    let unreachable_timeout = known_string(config, "unreachable_timeout")
        .and_then(|text| parse_timeout(text).ok())
        .unwrap_or(DEFAULT_UNREACHABLE_TIMEOUT);
    let max_parallel_requests = match max_parallel_requests(config) {
        Ok(Some(n)) => n,
        Ok(None) => match max_parallel_requests_from_environment(&environment) {
            Ok(n) => n.unwrap_or(DEFAULT_MAX_PARALLEL_REQUESTS),
            Err(error) => {
                diagnostics.push(error);
                DEFAULT_MAX_PARALLEL_REQUESTS
            }
        },
        Err(error) => {
            diagnostics.push(error);
            DEFAULT_MAX_PARALLEL_REQUESTS
        }
    };
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let (Some(base_url), Some(password)) = (base_url, password) else {
        return Err(diagnostics);
    };
    let sql = super::sql_config::sql_settings_from_block(
        config,
        &environment,
        &password,
        request_timeout,
    )?;
    let client_identity_pem = match (
        known_string(config, "client_certificate"),
        known_string(config, "client_key"),
    ) {
        (Some(certificate), Some(key)) => Some((certificate.to_owned(), key.to_owned())),
        _ => None,
    };
    Ok(Some(ProviderConfig {
        base_url,
        password,
        ca_certificate_pem: known_string(config, "ca_certificate").map(str::to_owned),
        client_identity_pem,
        request_timeout,
        unreachable_timeout,
        sql,
        max_parallel_requests,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn every_provider_attribute_is_described() {
        for attribute in provider_schema().block.attributes {
            assert!(!attribute.description.is_empty(), "{}", attribute.name);
        }
        let schema = provider_schema();
        assert!(schema
            .block
            .attribute("password")
            .is_some_and(|a| a.sensitive));
        assert!(schema
            .block
            .attribute("client_key")
            .is_some_and(|a| a.sensitive));
    }

    #[test]
    fn endpoints() {
        let ok = [
            ("http://10.0.0.1:2886", "http://10.0.0.1:2886"),
            ("http://10.0.0.1:2886/", "http://10.0.0.1:2886"),
            ("HTTPS://obshell.example", "https://obshell.example"),
            ("10.0.0.1:2886", "http://10.0.0.1:2886"),
            ("[::1]:2886", "http://[::1]:2886"),
            ("http://[::1]:2886", "http://[::1]:2886"),
        ];
        for (text, url) in ok {
            assert_eq!(parse_endpoint(text).as_deref(), Ok(url), "{text}");
        }
        let bad = [
            ("", EndpointError::Empty),
            ("ftp://h:1", EndpointError::Scheme),
            ("http://h:1/api", EndpointError::Path),
            ("http://h:1?x", EndpointError::Path),
            ("http://root:pw@h:1", EndpointError::UserInfo),
            ("h", EndpointError::HostPort),
            ("h:0", EndpointError::HostPort),
            ("h:99999", EndpointError::HostPort),
            ("h/x:1", EndpointError::Scheme),
            ("http://:1", EndpointError::HostPort),
        ];
        for (text, error) in bad {
            assert_eq!(parse_endpoint(text), Err(error), "{text}");
        }
    }

    fn block(entries: &[(&str, Value)]) -> Value {
        let mut object: BTreeMap<String, Value> = [
            "endpoint",
            "password",
            "ca_certificate",
            "client_certificate",
            "client_key",
            "request_timeout",
            "unreachable_timeout",
            "max_parallel_requests",
        ]
        .iter()
        .map(|name| ((*name).to_owned(), Value::Null))
        .collect();
        for (name, value) in entries {
            object.insert((*name).to_owned(), value.clone());
        }
        Value::Object(object)
    }

    #[test]
    fn environment_fallbacks() {
        let environment = |name: &str| match name {
            ENDPOINT_ENV => Some("127.0.0.1:2886".to_owned()),
            PASSWORD_ENV => Some("pw".to_owned()),
            _ => None,
        };
        let config = provider_config_from_block(&block(&[]), environment)
            .expect("valid")
            .expect("known");
        assert_eq!(config.base_url, "http://127.0.0.1:2886");
        assert_eq!(config.password, "pw");
        assert_eq!(config.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        let config = provider_config_from_block(
            &block(&[
                ("endpoint", "https://h:1".into()),
                ("request_timeout", "5s".into()),
            ]),
            environment,
        )
        .expect("valid")
        .expect("known");
        assert_eq!(config.base_url, "https://h:1");
        assert_eq!(config.request_timeout, Duration::from_secs(5));
    }

    #[test]
    fn max_parallel_requests_from_block_then_environment_then_default() {
        let environment = |value: &'static str| {
            move |name: &str| match name {
                ENDPOINT_ENV => Some("127.0.0.1:2886".to_owned()),
                PASSWORD_ENV => Some("pw".to_owned()),
                MAX_PARALLEL_REQUESTS_ENV => Some(value.to_owned()),
                _ => None,
            }
        };
        let configured = |entries: &[(&str, Value)], env: &'static str| {
            provider_config_from_block(&block(entries), environment(env))
        };
        let bound = |entries: &[(&str, Value)], env: &'static str| {
            configured(entries, env)
                .expect("valid")
                .expect("known")
                .max_parallel_requests
        };
        assert_eq!(bound(&[], ""), DEFAULT_MAX_PARALLEL_REQUESTS);
        assert_eq!(bound(&[], " 3 "), 3);
        assert_eq!(
            bound(&[("max_parallel_requests", Value::from(16i64))], "3"),
            16
        );
        assert_eq!(
            bound(&[("max_parallel_requests", Value::from(64i64))], ""),
            64
        );
        for bad in [0i64, 65, -1] {
            let config = block(&[("max_parallel_requests", Value::from(bad))]);
            let diagnostics = validate_provider_block(&config);
            assert_eq!(diagnostics.0.len(), 1, "{bad}");
            let diagnostic = &diagnostics.0[0];
            assert_eq!(
                diagnostic
                    .attribute
                    .as_ref()
                    .map(ToString::to_string)
                    .as_deref(),
                Some("max_parallel_requests")
            );
            assert!(
                diagnostic.detail.contains("from 1 to 64"),
                "{}",
                diagnostic.detail
            );
            assert!(configured(&[("max_parallel_requests", Value::from(bad))], "").is_err());
        }
        let fractional = block(&[(
            "max_parallel_requests",
            Value::Number(crate::tf::Number::Float(2.5)),
        )]);
        assert!(validate_provider_block(&fractional).has_errors());
        for bad in ["0", "many", "65"] {
            let diagnostics = configured(&[], bad).expect_err(bad);
            assert!(
                diagnostics.0[0].detail.contains(MAX_PARALLEL_REQUESTS_ENV),
                "{}",
                diagnostics.0[0].detail
            );
        }
        assert!(matches!(
            provider_config_from_block(
                &block(&[("max_parallel_requests", Value::Unknown)]),
                |_| None
            ),
            Ok(None)
        ));
    }

    #[test]
    fn missing_values_are_errors_that_name_the_attribute() {
        let diagnostics = provider_config_from_block(&block(&[]), |_| None).expect_err("missing");
        let paths: Vec<String> = diagnostics
            .0
            .iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect();
        assert_eq!(paths, ["endpoint", "password"]);
    }

    #[test]
    fn an_empty_password_variable_is_missing_but_an_empty_attribute_is_taken() {
        let environment = |name: &str| match name {
            ENDPOINT_ENV => Some("127.0.0.1:2886".to_owned()),
            PASSWORD_ENV => Some(String::new()),
            _ => None,
        };
        let diagnostics =
            provider_config_from_block(&block(&[]), environment).expect_err("missing password");
        assert_eq!(diagnostics.0.len(), 1, "{diagnostics:?}");
        assert_eq!(diagnostics.0[0].summary, "Missing obshell password");
        assert!(
            diagnostics.0[0].detail.contains("set, but empty"),
            "{}",
            diagnostics.0[0].detail
        );
        let config = provider_config_from_block(&block(&[("password", "".into())]), environment)
            .expect("valid")
            .expect("known");
        assert_eq!(config.password, "");
    }

    #[test]
    fn unreachable_timeout_defaults_and_is_checked() {
        let environment = |name: &str| match name {
            ENDPOINT_ENV => Some("127.0.0.1:2886".to_owned()),
            PASSWORD_ENV => Some("pw".to_owned()),
            _ => None,
        };
        let config = provider_config_from_block(&block(&[]), environment)
            .expect("valid")
            .expect("known");
        assert_eq!(config.unreachable_timeout, Duration::from_secs(300));
        let config = provider_config_from_block(
            &block(&[("unreachable_timeout", "90s".into())]),
            environment,
        )
        .expect("valid")
        .expect("known");
        assert_eq!(config.unreachable_timeout, Duration::from_secs(90));
        let diagnostics =
            validate_provider_block(&block(&[("unreachable_timeout", "soon".into())]));
        assert_eq!(
            diagnostics.0[0]
                .attribute
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("unreachable_timeout")
        );
    }

    #[test]
    fn unknown_values_defer_configuration() {
        let result = provider_config_from_block(&block(&[("endpoint", Value::Unknown)]), |_| None);
        assert!(matches!(result, Ok(None)));
    }

    #[test]
    fn debug_hides_secrets() {
        let config = ProviderConfig {
            base_url: "http://h:1".to_owned(),
            password: "SECRETPW".to_owned(),
            ca_certificate_pem: None,
            client_identity_pem: Some(("CERT".to_owned(), "SECRETKEY".to_owned())),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            unreachable_timeout: DEFAULT_UNREACHABLE_TIMEOUT,
            sql: Some(crate::sql::SqlSettings {
                endpoint: "h:2881".to_owned(),
                host: "h".to_owned(),
                port: 2881,
                user: "root".to_owned(),
                password: "SECRETSQL".to_owned(),
                tls: crate::sql::SqlTls::default(),
                timeout: DEFAULT_REQUEST_TIMEOUT,
            }),
            max_parallel_requests: DEFAULT_MAX_PARALLEL_REQUESTS,
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
    }

    #[test]
    fn endpoint_errors_never_echo_user_information() {
        let endpoints = [
            "http://root:TopSecret77@127.0.0.1:1",
            "http://root:TopSecret77@127.0.0.1:1/api",
            "http://root:Top/Secret77@h:1",
            "root:TopSecret77@h/x:1",
            "ftp://root:TopSecret77@h:1",
        ];
        for endpoint in endpoints {
            let diagnostics = validate_provider_block(&block(&[("endpoint", endpoint.into())]));
            assert!(diagnostics.has_errors(), "{endpoint}");
            let from_environment = provider_config_from_block(&block(&[]), |name| {
                (name == ENDPOINT_ENV).then(|| endpoint.to_owned())
            })
            .expect_err("invalid");
            for diagnostic in diagnostics.0.iter().chain(&from_environment.0) {
                let text = format!("{} {}", diagnostic.summary, diagnostic.detail);
                assert!(!text.contains("Secret77"), "{text}");
            }
        }
        assert_eq!(redacted_endpoint("http://u:p@h:1/x"), "http://***@h:1/x");
        assert_eq!(redacted_endpoint("u:p@h:1"), "***@h:1");
        assert_eq!(redacted_endpoint("http://h:1/x"), "http://h:1/x");
    }

    #[test]
    fn client_certificate_needs_its_key() {
        let diagnostics = validate_provider_block(&block(&[("client_certificate", "PEM".into())]));
        assert_eq!(
            diagnostics.0[0]
                .attribute
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("client_key")
        );
    }
}

//! Backup storage URIs: the checks obshell makes (synchronously and later inside its DAG), merging
//! `storage_credentials` into the URI obshell receives, recovering the base URI from a tenant's
//! destination, and comparing two URIs by meaning.
//!
//! obshell facts: `obshell-api.md` §2 step 11 (schemes, deeper rules), §3.1 (per-tenant sub-paths
//! `<base>/<cluster_id>/<tenant_id>/{clog,data}`), §5 (the storage read strips credentials).

use std::fmt;

/// A storage scheme obshell accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageScheme {
    /// `file://`, a shared file system mounted on every node.
    File,
    /// `oss://`, Alibaba Cloud OSS.
    Oss,
    /// `cos://`, Tencent Cloud COS.
    Cos,
    /// `s3://`, Amazon S3 or compatible.
    S3,
}

impl StorageScheme {
    /// True for the object stores, which need a bucket, a host and credentials.
    pub fn is_object_store(self) -> bool {
        !matches!(self, StorageScheme::File)
    }

    /// The query parameters obshell keeps for this scheme: when it builds each tenant's
    /// destination it re-emits only these (besides the credentials) and drops every other one.
    pub fn kept_query_keys(self) -> &'static [&'static str] {
        match self {
            StorageScheme::File => &[],
            StorageScheme::Oss => &["host", "delete_mode"],
            StorageScheme::Cos => &["host", "appid", "delete_mode"],
            StorageScheme::S3 => &["host", "s3_region", "delete_mode"],
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            StorageScheme::File => "file://",
            StorageScheme::Oss => "oss://",
            StorageScheme::Cos => "cos://",
            StorageScheme::S3 => "s3://",
        }
    }
}

/// The query parameters that carry credentials; they never appear in `backup_base_uri`.
pub const SECRET_QUERY_KEYS: [&str; 2] = ["access_id", "access_key"];

/// A parsed storage URI.
#[derive(Clone, PartialEq, Eq)]
pub struct StorageUri {
    /// The scheme.
    pub scheme: StorageScheme,
    /// The bucket (object stores); empty for `file://`.
    pub bucket: String,
    /// The path: the absolute path for `file://`, the object key (with a leading `/` when
    /// present) for object stores.
    pub path: String,
    /// The query parameters in their order.
    pub query: Vec<(String, String)>,
}

impl fmt::Debug for StorageUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let visible: Vec<&(String, String)> = self
            .query
            .iter()
            .filter(|(key, _)| !is_secret_key(key))
            .collect();
        f.debug_struct("StorageUri")
            .field("scheme", &self.scheme)
            .field("bucket", &self.bucket)
            .field("path", &self.path)
            .field("query", &visible)
            .finish_non_exhaustive()
    }
}

/// Why a URI was rejected. Messages never repeat a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// The URI contains a character obshell would put unescaped into SQL.
    #[error("the URI contains a quote or whitespace, which obshell cannot put into SQL")]
    ForbiddenCharacter,
    /// The scheme is not one obshell supports.
    #[error("the URI must start with file://, oss://, cos:// or s3://")]
    Scheme,
    /// A `file://` URI whose path is not absolute.
    #[error("a file:// URI needs an absolute path, such as file:///data/backup")]
    FileRelative,
    /// A `file://` URI with a query.
    #[error("a file:// URI cannot have a query ('?')")]
    FileQuery,
    /// An object-store URI without a bucket.
    #[error("an object-store URI needs a bucket, such as oss://bucket/path?host=...")]
    NoBucket,
    /// An object-store URI with nothing after the bucket: obshell splits it at the first `/`.
    #[error("an object-store URI needs a '/' after the bucket, such as oss://bucket/path?host=... or oss://bucket/?host=...; obshell cannot parse oss://bucket?host=...")]
    NoSlashAfterBucket,
    /// An object-store URI without `host=`.
    #[error("an object-store URI needs the host query parameter, such as ?host=oss-cn-hangzhou.aliyuncs.com")]
    NoHost,
    /// A `cos://` URI without `appid=`.
    #[error("a cos:// URI needs the appid query parameter")]
    NoAppId,
    /// Credentials inside the URI.
    #[error("the URI carries access_id or access_key: put them in storage_credentials, which is sensitive, instead")]
    CredentialsInUri,
    /// A malformed query.
    #[error("the URI's query is malformed: write key=value pairs separated by '&'")]
    Query,
    /// A query parameter obshell drops when it builds the tenants' destinations.
    #[error("the query parameter {key:?} is not one obshell keeps for {scheme}: it re-emits only {kept} (credentials go in storage_credentials) and drops every other parameter, so the cluster would never show it and every plan would send the URI again")]
    UnsupportedQuery {
        /// The parameter's name (never a credential's).
        key: String,
        /// The scheme, such as `oss://`.
        scheme: &'static str,
        /// The parameters obshell keeps for the scheme.
        kept: String,
    },
    /// A query parameter without a value, which obshell drops.
    #[error("the query parameter {0:?} has no value: obshell drops empty parameters, so remove it or give it a value")]
    EmptyQueryValue(String),
    /// A query value with a character Go's `url.ParseQuery` rejects (`;`) or decodes (`%`), so
    /// obshell's task would fail on it or store another value.
    #[error("the query parameter {0:?} contains ';' or '%': obshell parses the query with Go's url.ParseQuery, which rejects ';' and percent-decodes '%', so its task would fail or store another value")]
    QueryCharacter(String),
    /// A query parameter given twice; obshell keeps only the first.
    #[error("the query parameter {0:?} is given more than once: obshell keeps only the first")]
    DuplicateQuery(String),
}

fn is_secret_key(key: &str) -> bool {
    SECRET_QUERY_KEYS
        .iter()
        .any(|secret| secret.eq_ignore_ascii_case(key))
}

/// Parses a storage URI without judging credentials: obshell's shape checks only.
fn parse_shape(text: &str) -> Result<StorageUri, UriError> {
    if text.contains('\'') || text.chars().any(char::is_whitespace) {
        return Err(UriError::ForbiddenCharacter);
    }
    let scheme = [
        StorageScheme::File,
        StorageScheme::Oss,
        StorageScheme::Cos,
        StorageScheme::S3,
    ]
    .into_iter()
    .find(|scheme| text.starts_with(scheme.prefix()))
    .ok_or(UriError::Scheme)?;
    let rest = &text[scheme.prefix().len()..];
    if scheme == StorageScheme::File {
        if rest.contains('?') {
            return Err(UriError::FileQuery);
        }
        if !rest.starts_with('/') {
            return Err(UriError::FileRelative);
        }
        return Ok(StorageUri {
            scheme,
            bucket: String::new(),
            path: rest.to_owned(),
            query: Vec::new(),
        });
    }
    let (location, query_text) = rest.split_once('?').unwrap_or((rest, ""));
    let (bucket, path) = match location.find('/') {
        Some(slash) => (&location[..slash], &location[slash..]),
        None => (location, ""),
    };
    if bucket.is_empty() {
        return Err(UriError::NoBucket);
    }
    let mut query = Vec::new();
    for pair in query_text.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or(UriError::Query)?;
        if key.is_empty() {
            return Err(UriError::Query);
        }
        query.push((key.to_owned(), value.to_owned()));
    }
    Ok(StorageUri {
        scheme,
        bucket: bucket.to_owned(),
        path: path.to_owned(),
        query,
    })
}

impl StorageUri {
    /// The value of query parameter `key`.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// Parses and checks a `backup_base_uri` as configured: obshell's synchronous scheme check, the
/// rules obshell only finds inside its DAG (absolute file path, bucket and host, cos appid), and
/// no credentials inside the URI.
pub fn parse_backup_base_uri(text: &str) -> Result<StorageUri, UriError> {
    let uri = parse_shape(text)?;
    if uri.query.iter().any(|(key, _)| is_secret_key(key)) {
        return Err(UriError::CredentialsInUri);
    }
    if uri.scheme.is_object_store() {
        if uri.path.is_empty() {
            return Err(UriError::NoSlashAfterBucket);
        }
        let kept = uri.scheme.kept_query_keys();
        for (index, (key, value)) in uri.query.iter().enumerate() {
            if !kept.contains(&key.as_str()) {
                return Err(UriError::UnsupportedQuery {
                    key: key.clone(),
                    scheme: uri.scheme.prefix(),
                    kept: kept.join(", "),
                });
            }
            if value.contains([';', '%']) {
                return Err(UriError::QueryCharacter(key.clone()));
            }
            if uri.query[..index].iter().any(|(earlier, _)| earlier == key) {
                return Err(UriError::DuplicateQuery(key.clone()));
            }
            if value.is_empty() && key != "host" && key != "appid" {
                return Err(UriError::EmptyQueryValue(key.clone()));
            }
        }
        if uri.query_value("host").is_none_or(str::is_empty) {
            return Err(UriError::NoHost);
        }
        if uri.scheme == StorageScheme::Cos && uri.query_value("appid").is_none_or(str::is_empty) {
            return Err(UriError::NoAppId);
        }
    }
    Ok(uri)
}

/// The URI obshell receives: `backup_base_uri` with `access_id` and `access_key` appended as
/// query parameters. The result is secret; never log it.
pub fn merge_credentials(base_uri: &str, access_id: &str, access_key: &str) -> String {
    let separator = if base_uri.contains('?') { '&' } else { '?' };
    format!("{base_uri}{separator}access_id={access_id}&access_key={access_key}")
}

/// Which half of a tenant's backup destinations a URI came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestKind {
    /// The archive-log destination, ending in `/clog`.
    Archive,
    /// The data-backup destination, ending in `/data`.
    Data,
}

/// Recovers the `backup_base_uri` from a tenant's destination by removing the
/// `/<cluster_id>/<tenant_id>/{clog,data}` suffix obshell appended to the path (and the one `/`
/// obshell's tenant-level call adds after it). A destination without that suffix (set by hand,
/// per tenant) is returned unchanged, so it shows as drift.
pub fn base_from_tenant_dest(
    dest: &str,
    cluster_id: &str,
    tenant_id: i64,
    kind: DestKind,
) -> String {
    let leaf = match kind {
        DestKind::Archive => "clog",
        DestKind::Data => "data",
    };
    let suffix = format!("/{cluster_id}/{tenant_id}/{leaf}");
    let (location, query) = match dest.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (dest, None),
    };
    let trimmed = location.strip_suffix('/').unwrap_or(location);
    match trimmed.strip_suffix(&suffix) {
        Some(base) => match query {
            Some(query) => format!("{base}?{query}"),
            None => base.to_owned(),
        },
        None => dest.to_owned(),
    }
}

/// One tenant's destination as obshell's cluster call makes it from `base_uri` (credentials
/// included, for the wire): `/<cluster_id>/<tenant_id>/{clog,data}` appended to the path, before
/// the query; an object store's trailing `/` is dropped first, a `file://` path's is not
/// (`file:///b/` gives `file:///b//1/1002/clog`), as obshell does. The result is secret when
/// `base_uri` carries credentials; never log it.
pub fn tenant_dest(base_uri: &str, cluster_id: &str, tenant_id: i64, kind: DestKind) -> String {
    let leaf = match kind {
        DestKind::Archive => "clog",
        DestKind::Data => "data",
    };
    let (location, query) = match base_uri.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (base_uri, None),
    };
    let location = if location.starts_with("file://") {
        location
    } else {
        location.trim_end_matches('/')
    };
    let dest = format!("{location}/{cluster_id}/{tenant_id}/{leaf}");
    match query {
        Some(query) => format!("{dest}?{query}"),
        None => dest,
    }
}

fn normalised_path(path: &str) -> String {
    let mut result = String::with_capacity(path.len());
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        result.push('/');
        result.push_str(segment);
    }
    if result.is_empty() && path.starts_with('/') {
        result.push('/');
    }
    result
}

/// True when two storage URIs name the same place: same scheme and bucket, the same path once
/// repeated and trailing slashes are ignored, and the same values of the query parameters obshell
/// keeps for the scheme ([`StorageScheme::kept_query_keys`]: the first value of each, empty
/// values ignored) in any order. Parameters obshell drops, and credentials, never make two URIs
/// differ, so a URI in an older state that carries one does not drift for ever. URIs that do not
/// parse are compared verbatim.
pub fn uris_equivalent(left: &str, right: &str) -> bool {
    let (Ok(left_uri), Ok(right_uri)) = (parse_shape(left), parse_shape(right)) else {
        return left == right;
    };
    let visible_query = |uri: &StorageUri| {
        uri.scheme
            .kept_query_keys()
            .iter()
            .filter_map(|key| {
                uri.query_value(key)
                    .filter(|value| !value.is_empty())
                    .map(|value| (*key, value.to_owned()))
            })
            .collect::<Vec<_>>()
    };
    left_uri.scheme == right_uri.scheme
        && left_uri.bucket == right_uri.bucket
        && normalised_path(&left_uri.path) == normalised_path(&right_uri.path)
        && visible_query(&left_uri) == visible_query(&right_uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_uri(text: &str, expected: Result<(), UriError>) {
        assert_eq!(parse_backup_base_uri(text).map(|_| ()), expected, "{text}");
    }

    #[test]
    fn uri_validation_table() {
        check_uri("file:///data/backup", Ok(()));
        check_uri(
            "oss://bucket/backup?host=oss.example.com;x",
            Err(UriError::QueryCharacter("host".to_owned())),
        );
        check_uri(
            "s3://bucket/backup?host=s3.example.com&s3_region=us%2Deast",
            Err(UriError::QueryCharacter("s3_region".to_owned())),
        );
        check_uri("file:///", Ok(()));
        check_uri("file://data/backup", Err(UriError::FileRelative));
        check_uri("file:///data?x=1", Err(UriError::FileQuery));
        check_uri("file:///data/it's", Err(UriError::ForbiddenCharacter));
        check_uri("file:///data/a b", Err(UriError::ForbiddenCharacter));
        check_uri("nfs:///data", Err(UriError::Scheme));
        check_uri("FILE:///data", Err(UriError::Scheme));
        check_uri("", Err(UriError::Scheme));
        check_uri(
            "oss://bucket/backup?host=oss-cn-hangzhou.aliyuncs.com",
            Ok(()),
        );
        check_uri("oss://bucket?host=h", Err(UriError::NoSlashAfterBucket));
        check_uri("oss://bucket/?host=h", Ok(()));
        check_uri("oss:///backup?host=h", Err(UriError::NoBucket));
        check_uri("oss://bucket/backup", Err(UriError::NoHost));
        check_uri("oss://bucket/backup?host=", Err(UriError::NoHost));
        check_uri(
            "oss://b/k?host=h&access_id=a",
            Err(UriError::CredentialsInUri),
        );
        check_uri(
            "s3://b/k?host=h&ACCESS_KEY=a",
            Err(UriError::CredentialsInUri),
        );
        check_uri("oss://b/k?host", Err(UriError::Query));
        check_uri("cos://b/k?host=h", Err(UriError::NoAppId));
        check_uri("cos://b/k?host=h&appid=125", Ok(()));
        check_uri("s3://b/k?host=h&s3_region=us-east-1", Ok(()));
        check_uri("oss://b/k?host=h&delete_mode=tagging", Ok(()));
        // obshell re-emits only host, appid (cos), s3_region (s3) and delete_mode.
        let unsupported = |key: &str, scheme: &'static str, kept: &str| {
            Err(UriError::UnsupportedQuery {
                key: key.to_owned(),
                scheme,
                kept: kept.to_owned(),
            })
        };
        check_uri(
            "oss://b/k?host=h&checksum_type=md5",
            unsupported("checksum_type", "oss://", "host, delete_mode"),
        );
        check_uri(
            "oss://b/k?host=h&appid=1",
            unsupported("appid", "oss://", "host, delete_mode"),
        );
        check_uri(
            "cos://b/k?host=h&appid=1&s3_region=x",
            unsupported("s3_region", "cos://", "host, appid, delete_mode"),
        );
        check_uri(
            "s3://b/k?HOST=h",
            unsupported("HOST", "s3://", "host, s3_region, delete_mode"),
        );
        check_uri(
            "s3://b/k?host=h&s3_region=",
            Err(UriError::EmptyQueryValue("s3_region".to_owned())),
        );
        check_uri(
            "oss://b/k?host=h&delete_mode=",
            Err(UriError::EmptyQueryValue("delete_mode".to_owned())),
        );
        check_uri(
            "oss://b/k?host=h&host=i",
            Err(UriError::DuplicateQuery("host".to_owned())),
        );
    }

    #[test]
    fn credentials_are_merged_into_the_query() {
        assert_eq!(
            merge_credentials("oss://b/k?host=h", "AK", "SK"),
            "oss://b/k?host=h&access_id=AK&access_key=SK"
        );
        assert_eq!(
            merge_credentials("oss://b/k", "AK", "SK"),
            "oss://b/k?access_id=AK&access_key=SK"
        );
    }

    #[test]
    fn debug_hides_credentials() {
        let uri = parse_shape("oss://b/k?host=h&access_id=AK&access_key=SECRET").expect("shape");
        let debug = format!("{uri:?}");
        assert!(
            !debug.contains("SECRET") && !debug.contains("AK"),
            "{debug}"
        );
    }

    #[test]
    fn base_is_recovered_from_tenant_destinations() {
        let cases = [
            (
                "file:///data/backup/1726/1002/clog",
                DestKind::Archive,
                "file:///data/backup",
            ),
            (
                "file:///data/backup/1726/1002/data",
                DestKind::Data,
                "file:///data/backup",
            ),
            ("file:///b//1726/1002/clog", DestKind::Archive, "file:///b/"),
            (
                "oss://bucket/backup/1726/1002/clog?host=h&delete_mode=delete",
                DestKind::Archive,
                "oss://bucket/backup?host=h&delete_mode=delete",
            ),
            (
                "file:///elsewhere/clog",
                DestKind::Archive,
                "file:///elsewhere/clog",
            ),
            // The tenant-level call stores its destination with one more '/'.
            (
                "file:///data/backup/1726/1002/clog/",
                DestKind::Archive,
                "file:///data/backup",
            ),
            (
                "oss://bucket/backup/1726/1002/data/?host=h",
                DestKind::Data,
                "oss://bucket/backup?host=h",
            ),
            (
                "file:///data/backup/1726/1003/clog",
                DestKind::Archive,
                "file:///data/backup/1726/1003/clog",
            ),
        ];
        for (dest, kind, expected) in cases {
            assert_eq!(
                base_from_tenant_dest(dest, "1726", 1002, kind),
                expected,
                "{dest}"
            );
        }
    }

    #[test]
    fn tenant_destinations_are_the_cluster_calls() {
        let cases = [
            (
                "file:///data/backup",
                DestKind::Archive,
                "file:///data/backup/1726/1006/clog",
            ),
            ("file:///b/", DestKind::Data, "file:///b//1726/1006/data"),
            (
                "oss://bucket/k/?host=h&access_id=i&access_key=k",
                DestKind::Archive,
                "oss://bucket/k/1726/1006/clog?host=h&access_id=i&access_key=k",
            ),
        ];
        for (base, kind, expected) in cases {
            let dest = tenant_dest(base, "1726", 1006, kind);
            assert_eq!(dest, expected);
            let stripped = base_from_tenant_dest(&dest, "1726", 1006, kind);
            assert!(uris_equivalent(&stripped, base), "{stripped} vs {base}");
        }
    }

    #[test]
    fn uri_semantic_equality() {
        assert!(uris_equivalent(
            "file:///data/backup",
            "file:///data/backup/"
        ));
        assert!(uris_equivalent(
            "file:///data/backup",
            "file:///data//backup"
        ));
        assert!(!uris_equivalent(
            "file:///data/backup",
            "file:///data/backup2"
        ));
        assert!(uris_equivalent(
            "oss://b/k?host=h&delete_mode=delete",
            "oss://b/k/?delete_mode=delete&host=h"
        ));
        assert!(uris_equivalent(
            "oss://b/k?host=h",
            "oss://b/k?host=h&access_id=x&access_key=y"
        ));
        assert!(!uris_equivalent("oss://b/k?host=h", "oss://c/k?host=h"));
        assert!(!uris_equivalent("oss://b/k?host=h", "s3://b/k?host=h"));
        assert!(!uris_equivalent("oss://b/k?host=h", "oss://b/k?host=h2"));
        assert!(!uris_equivalent(
            "s3://b/k?host=h&s3_region=a",
            "s3://b/k?host=h&s3_region=b"
        ));
        // Parameters obshell drops never make a difference.
        assert!(uris_equivalent(
            "oss://b/k?host=h&checksum_type=md5",
            "oss://b/k?host=h"
        ));
        assert!(uris_equivalent(
            "oss://b/k?host=h&delete_mode=",
            "oss://b/k?host=h"
        ));
        assert!(uris_equivalent(
            "oss://b/k?host=h&appid=1",
            "oss://b/k?host=h"
        ));
        assert!(uris_equivalent("not a uri", "not a uri"));
    }
}

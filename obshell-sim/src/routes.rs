//! The obshell routes the simulator serves and the first obshell version that registers each.
//!
//! A route the emulated version does not register is answered as that version's gin `NoRoute`
//! handler does (obshell-api.md §10.1): HTTP 400, code 1000, "Bad request: 404 not found" up to
//! 4.3.0.x, and 404 `Common.NotFound` from 4.3.1.0. The table is public so that tests can check
//! documentation (the provider's obshell version matrix) against it.

use crate::version::ObshellVersion;

/// One emulated route: method, path pattern (`{name}` stands for one path segment) and the
/// first obshell version that has it. [`ObshellVersion::MIN_SUPPORTED`] means "every emulated
/// version" (the route may be older than that).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmulatedRoute {
    /// `GET`, `POST`, `PATCH`, ...
    pub method: &'static str,
    /// The path pattern, e.g. `/api/v1/tenant/{name}/backup/config/storage`.
    pub path: &'static str,
    /// The first obshell version that registers the route.
    pub since: ObshellVersion,
}

const ALWAYS: ObshellVersion = ObshellVersion::MIN_SUPPORTED;
/// PR 378 (`0e32aa5`), first in the 4.3.0.0 bump `32187ba`.
const V4300: ObshellVersion = ObshellVersion::new(4, 3, 0, 0);
/// PR 550 (`a3463f6`), first in the 4.3.2.0 bump `2d21695`.
const V4320: ObshellVersion = ObshellVersion::new(4, 3, 2, 0);

const fn route(method: &'static str, path: &'static str, since: ObshellVersion) -> EmulatedRoute {
    EmulatedRoute {
        method,
        path,
        since,
    }
}

/// Every route the simulator serves, literal paths before patterns that could also match them.
pub const ROUTES: &[EmulatedRoute] = &[
    route("GET", "/api/v1/info", ALWAYS),
    route("GET", "/api/v1/secret", ALWAYS),
    route("GET", "/api/v1/time", ALWAYS),
    route("GET", "/api/v1/status", ALWAYS),
    route("POST", "/api/v1/status", ALWAYS),
    route("GET", "/api/v1/git-info", ALWAYS),
    route("GET", "/api/v1/ob/info", ALWAYS),
    route("GET", "/api/v1/obcluster/info", V4300),
    route("POST", "/api/v1/obcluster/backup/config", ALWAYS),
    route("PATCH", "/api/v1/obcluster/backup/config", ALWAYS),
    route("PATCH", "/api/v1/obcluster/backup/log", ALWAYS),
    route("POST", "/api/v1/obcluster/backup", ALWAYS),
    route("GET", "/api/v1/obcluster/backup/overview", ALWAYS),
    route("GET", "/api/v1/task/dag/ob/unfinish", ALWAYS),
    route("GET", "/api/v1/task/dags/ob", V4300),
    route("GET", "/api/v1/task/dag/{id}", ALWAYS),
    route("POST", "/api/v1/task/dag/{id}", ALWAYS),
    route("GET", "/api/v1/tenants/overview", ALWAYS),
    route("GET", "/api/v1/tenant/{name}", ALWAYS),
    route("GET", "/api/v1/tenant/{name}/parameter/{parameter}", ALWAYS),
    route("GET", "/api/v1/tenant/{name}/parameters", ALWAYS),
    route("PATCH", "/api/v1/tenant/{name}/backup/log", ALWAYS),
    // The tenant-level config call: PR 189 (`7e2a664`), with the first backup APIs in 4.2.4.0.
    route("POST", "/api/v1/tenant/{name}/backup/config", ALWAYS),
    route("PATCH", "/api/v1/tenant/{name}/backup/config", ALWAYS),
    route("GET", "/api/v1/tenant/{name}/backup/config/storage", V4320),
    route("GET", "/api/v1/tenant/{name}/backup/log/tasks", V4320),
];

/// The routes `version` registers.
pub fn routes_of(version: ObshellVersion) -> impl Iterator<Item = &'static EmulatedRoute> {
    ROUTES.iter().filter(move |route| route.since <= version)
}

/// The route `version` serves for `method` and `path` (no query), with the path parameters in
/// pattern order; `None` is obshell's `NoRoute`.
pub(crate) fn find(
    version: ObshellVersion,
    method: &str,
    path: &str,
) -> Option<(&'static EmulatedRoute, Vec<String>)> {
    let segments: Vec<&str> = path.split('/').collect();
    routes_of(version)
        .filter(|route| route.method == method)
        .find_map(|route| {
            let pattern: Vec<&str> = route.path.split('/').collect();
            if pattern.len() != segments.len() {
                return None;
            }
            let mut parameters = Vec::new();
            for (expected, actual) in pattern.iter().zip(&segments) {
                if expected.starts_with('{') {
                    if actual.is_empty() {
                        return None;
                    }
                    parameters.push((*actual).to_owned());
                } else if expected != actual {
                    return None;
                }
            }
            Some((route, parameters))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_gate_the_routes() {
        let v424 = ObshellVersion::new(4, 2, 4, 0);
        let v430 = ObshellVersion::new(4, 3, 0, 0);
        let v432 = ObshellVersion::new(4, 3, 2, 0);
        assert!(find(v424, "GET", "/api/v1/obcluster/info").is_none());
        assert!(find(v424, "GET", "/api/v1/ob/info").is_some());
        assert!(find(v430, "GET", "/api/v1/obcluster/info").is_some());
        assert!(find(v424, "GET", "/api/v1/task/dags/ob").is_none());
        assert!(find(v430, "GET", "/api/v1/tenant/t1/backup/config/storage").is_none());
        // The tenant-level config call exists in every emulated version, the storage read not.
        let (route, parameters) = find(v424, "POST", "/api/v1/tenant/t3/backup/config").unwrap();
        assert_eq!(route.path, "/api/v1/tenant/{name}/backup/config");
        assert_eq!(parameters, ["t3"]);
        assert!(find(v424, "PATCH", "/api/v1/tenant/t3/backup/config").is_some());
        assert!(find(v424, "GET", "/api/v1/tenant/t3/backup/config").is_none());
        let (route, parameters) = find(v432, "GET", "/api/v1/tenant/t1/backup/log/tasks").unwrap();
        assert_eq!(route.path, "/api/v1/tenant/{name}/backup/log/tasks");
        assert_eq!(parameters, ["t1"]);
    }

    #[test]
    fn literal_paths_win_and_parameters_are_whole_segments() {
        let v = ObshellVersion::new(4, 5, 0, 0);
        let (route, parameters) = find(v, "GET", "/api/v1/task/dag/ob/unfinish").unwrap();
        assert_eq!(route.path, "/api/v1/task/dag/ob/unfinish");
        assert!(parameters.is_empty());
        let (route, parameters) = find(v, "GET", "/api/v1/task/dag/11").unwrap();
        assert_eq!(route.path, "/api/v1/task/dag/{id}");
        assert_eq!(parameters, ["11"]);
        let (_, parameters) =
            find(v, "GET", "/api/v1/tenant/t1/parameter/archive_lag_target").unwrap();
        assert_eq!(parameters, ["t1", "archive_lag_target"]);
        assert!(find(v, "GET", "/api/v1/tenant/").is_none());
        assert!(find(v, "DELETE", "/api/v1/tenant/t1").is_none());
        assert!(find(v, "GET", "/api/v1/tenant/t1/extra/x").is_none());
    }

    #[test]
    fn no_pattern_is_listed_twice() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    (a.method, a.path) != (b.method, b.path),
                    "{a:?} is listed twice"
                );
            }
        }
    }
}

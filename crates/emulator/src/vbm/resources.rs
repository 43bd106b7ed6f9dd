//! Read-only REST resources of a tenant (organization) sign-in: `/vN/Organizations`, `/vN/Jobs`,
//! `/vN/Organization`, `/vN/Organization/LoggedInUser` and `/vN/Organizations/{id}/Users`. A
//! token issued for an organization sees that organization only, as the real server scopes a
//! tenant administrator's view.
//!
//! Collections follow the published paging: a page object `{offset, limit, results, _links}`
//! (`limit` 30 by default, at most 10,000; `_links` has `self`, and `first`/`prev`/`next` when
//! there are such pages, as server-relative links keeping the other query parameters, unless
//! [`crate::Emulators::set_vbm_page_links_without_next`] leaves all but `self` out). Organizations
//! and jobs are paged on v8 and plain arrays on v6 and v7 (their specifications page neither);
//! users are paged on every version, and their pages carry a `setId`: a request without one
//! starts a new cached set (counted as `vbm_user_sets`), one with an unknown id is refused.

use super::{authorized, vbm_headers, ApiVersion, VbmError};
use crate::state::Shared;
use crate::util;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

/// Default and largest page size (OpenAPI: "The default value is 30", "at most 10,000").
const DEFAULT_LIMIT: usize = 30;
const MAX_LIMIT: usize = 10_000;

/// A read-only resource the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Organizations,
    Jobs,
    Organization,
    LoggedInUser,
    Users,
}

impl Resource {
    /// The resource at these (lowercase) path segments after the version.
    pub fn at(segments: &[&str]) -> Option<Resource> {
        Some(match segments {
            ["organizations"] => Resource::Organizations,
            ["jobs"] => Resource::Jobs,
            ["organization"] => Resource::Organization,
            ["organization", "loggedinuser"] => Resource::LoggedInUser,
            ["organizations", _, "users"] => Resource::Users,
            _ => return None,
        })
    }

    fn counter(self) -> &'static str {
        match self {
            Resource::Organizations => "vbm_organizations",
            Resource::Jobs => "vbm_jobs",
            Resource::Organization => "vbm_organization",
            Resource::LoggedInUser => "vbm_logged_in_user",
            Resource::Users => "vbm_users",
        }
    }
}

/// Who the bearer token belongs to.
struct Caller {
    tenant: String,
    user: String,
    jobs: usize,
    users: usize,
    /// Pages carry `_links.self` only.
    bare_links: bool,
}

/// `GET` of a resource: the bearer token must be valid (else 401), then the resource.
pub(crate) fn get(
    shared: &Shared,
    version: ApiVersion,
    resource: Resource,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    let caller = {
        let mut inner = shared.lock();
        inner.count(resource.counter());
        let rejects = inner.settings.vbm_api_rejects_tokens;
        let refresh = authorized(&mut inner, headers)
            .filter(|_| !rejects)
            .map(|a| a.refresh_token.clone());
        let jobs = inner.settings.vbm_jobs;
        let (users, bare_links) = (inner.knobs.users, inner.knobs.links_without_next);
        refresh
            .and_then(|rt| inner.vbm_refresh.get(&rt).cloned())
            .map(|rt| Caller {
                tenant: rt.tenant,
                user: rt.user_name,
                jobs,
                users,
                bare_links,
            })
    };
    let Some(caller) = caller else {
        return VbmError::unauthorized().into_response(Some(version));
    };
    let body = match resource {
        Resource::Organization => Ok(organization(&caller, version, false)),
        Resource::LoggedInUser => {
            Ok(json!({"id": util::uuid_from(&caller.user), "name": caller.user}))
        }
        Resource::Organizations => {
            let all = vec![organization(&caller, version, true)];
            collection(version, uri, all, caller.bare_links)
        }
        Resource::Jobs => {
            let wanted = query(uri, "organizationId");
            let org = util::uuid_from(&caller.tenant);
            let all = match wanted {
                Some(id) if !id.eq_ignore_ascii_case(&org) => Vec::new(),
                _ => (0..caller.jobs).map(|i| job(&caller, version, i)).collect(),
            };
            collection(version, uri, all, caller.bare_links)
        }
        Resource::Users => users(shared, version, uri, &caller),
    };
    match body {
        Ok(v) => util::response(
            StatusCode::OK,
            "application/json; charset=utf-8",
            v.to_string(),
            &with_date(shared, vbm_headers()),
        ),
        Err(e) => e.into_response(Some(version)),
    }
}

/// Adds a `Date` header `offset` seconds off the real time when the server's clock is set off
/// ([`crate::Emulators::set_vbm_clock_offset_secs`]); otherwise the HTTP server adds the real one.
pub(crate) fn with_date(
    shared: &Shared,
    mut headers: Vec<(&'static str, String)>,
) -> Vec<(&'static str, String)> {
    let offset = shared.lock().settings.vbm_clock_offset_secs;
    if offset != 0 {
        let t = chrono::Utc::now() + chrono::Duration::seconds(offset);
        headers.push(("date", util::rfc1123(t)));
    }
    headers
}

fn organization(caller: &Caller, version: ApiVersion, composed: bool) -> Value {
    let id = util::uuid_from(&caller.tenant);
    let mut o = json!({
        "id": id,
        "name": caller.tenant,
        "type": "Office365",
        "isBackedup": true,
        "firstBackuptime": "2026-01-05T22:00:14Z",
        "lastBackuptime": "2026-11-26T22:00:09Z",
    });
    if composed {
        o["officeName"] = caller.tenant.clone().into();
        o["region"] = "Worldwide".into();
        o["isExchangeOnline"] = true.into();
        o["isSharePointOnline"] = true.into();
        o["isTeamsOnline"] = true.into();
        let v = version.as_str();
        o["_links"] = json!({"self": {"href": format!("/{v}/Organizations/{id}")}});
    }
    o
}

fn job(caller: &Caller, version: ApiVersion, i: usize) -> Value {
    let v = version.as_str();
    let org = util::uuid_from(&caller.tenant);
    let id = util::uuid_from(&format!("{}/job/{i}", caller.tenant));
    json!({
        "id": id,
        "organizationId": org,
        "repositoryId": util::uuid_from(&format!("{}/repository", caller.tenant)),
        "name": format!("Backup job {}", i + 1),
        "description": "",
        "backupType": if i.is_multiple_of(2) { "EntireOrganization" } else { "SelectedItems" },
        "isEnabled": true,
        "lastStatus": "Success",
        "lastRun": "2026-11-26T22:00:00Z",
        "nextRun": "2026-11-27T22:00:00Z",
        "_links": {
            "self": {"href": format!("/{v}/Jobs/{id}")},
            "organization": {"href": format!("/{v}/Organizations/{org}")},
        },
    })
}

/// `/vN/Organizations/{id}/Users` of the caller's organization: pages with a `setId` on every
/// version (see the module doc).
fn users(
    shared: &Shared,
    version: ApiVersion,
    uri: &Uri,
    caller: &Caller,
) -> Result<Value, VbmError> {
    let org = util::uuid_from(&caller.tenant);
    let wanted = uri.path().split('/').nth(3).unwrap_or_default();
    if !wanted.eq_ignore_ascii_case(&org) {
        return Err(VbmError::not_found(uri));
    }
    let set_id = {
        let mut inner = shared.lock();
        match query(uri, "setId") {
            Some(id) if inner.knobs.sets.contains(&id.to_ascii_lowercase()) => id,
            Some(id) => {
                return Err(VbmError::validation(format!(
                    "The set '{id}' was not found."
                )))
            }
            None => {
                let id = util::uuid_v4();
                inner.knobs.sets.insert(id.clone());
                inner.count("vbm_user_sets");
                id
            }
        }
    };
    let domain = caller.tenant.to_ascii_lowercase();
    let all = (0..caller.users)
        .map(|i| {
            let id = util::uuid_from(&format!("{}/user/{i}", caller.tenant));
            json!({
                "id": id,
                "displayName": format!("User {}", i + 1),
                "name": format!("user{}@{domain}", i + 1),
                "type": "User",
                "locationType": "Cloud",
                "office": "",
                "_links": {"self": {"href": format!("/{}/Organizations/{org}/Users/{id}", version.as_str())}},
            })
        })
        .collect();
    let mut page = page(uri, all, caller.bare_links)?;
    page["setId"] = set_id.into();
    Ok(page)
}

/// The first value of a query parameter (name compared ignoring case, as ASP.NET binds them).
fn query(uri: &Uri, name: &str) -> Option<String> {
    let q = uri.query()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

/// An `int32` query parameter of at least `min`, or its default.
fn number(uri: &Uri, name: &str, default: usize, max: usize) -> Result<usize, VbmError> {
    let Some(raw) = query(uri, name) else {
        return Ok(default);
    };
    let n: i64 = raw
        .trim()
        .parse()
        .map_err(|_| VbmError::validation(format!("The value '{raw}' is not valid for {name}.")))?;
    if n < 0 || n as u64 > max as u64 {
        return Err(VbmError::validation(format!(
            "The {name} parameter must be between 0 and {max}."
        )));
    }
    Ok(n as usize)
}

/// A collection: a page object on v8, the whole array on v6 and v7.
fn collection(
    version: ApiVersion,
    uri: &Uri,
    all: Vec<Value>,
    bare_links: bool,
) -> Result<Value, VbmError> {
    if version != ApiVersion::V8 {
        return Ok(Value::Array(all));
    }
    page(uri, all, bare_links)
}

/// The page of `all` the request's `offset` and `limit` ask for; `bare_links`: `_links.self` only.
fn page(uri: &Uri, all: Vec<Value>, bare_links: bool) -> Result<Value, VbmError> {
    let offset = number(uri, "offset", 0, i32::MAX as usize)?;
    let limit = number(uri, "limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let results: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let link = |o: usize| json!({"href": page_href(uri, o, limit)});
    let mut links = serde_json::Map::new();
    if offset > 0 && !bare_links {
        links.insert("first".into(), link(0));
        links.insert("prev".into(), link(offset.saturating_sub(limit)));
    }
    links.insert("self".into(), link(offset));
    if limit > 0 && offset + limit < all.len() && !bare_links {
        links.insert("next".into(), link(offset + limit));
    }
    Ok(json!({
        "offset": offset,
        "limit": limit,
        "results": results,
        "_links": links,
    }))
}

/// The request's path with its other query parameters and this page's `offset` and `limit`.
fn page_href(uri: &Uri, offset: usize, limit: usize) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(query) = uri.query() {
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if !k.eq_ignore_ascii_case("offset") && !k.eq_ignore_ascii_case("limit") {
                q.append_pair(&k, &v);
            }
        }
    }
    q.append_pair("offset", &offset.to_string());
    q.append_pair("limit", &limit.to_string());
    format!("{}?{}", uri.path(), q.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(uri: &str, n: usize) -> Value {
        let uri: Uri = uri.parse().unwrap();
        let all = (0..n).map(|i| json!(i)).collect();
        collection(ApiVersion::V8, &uri, all, false).unwrap()
    }

    #[test]
    fn pages_carry_offset_limit_results_and_links() {
        let p = page("/v8/Jobs?organizationId=x&offset=30&limit=30", 70);
        assert_eq!(p["offset"], 30);
        assert_eq!(p["limit"], 30);
        assert_eq!(p["results"].as_array().unwrap().len(), 30);
        assert_eq!(p["results"][0], 30);
        let links = &p["_links"];
        assert_eq!(
            links["next"]["href"],
            "/v8/Jobs?organizationId=x&offset=60&limit=30"
        );
        assert_eq!(
            links["prev"]["href"],
            "/v8/Jobs?organizationId=x&offset=0&limit=30"
        );
        assert_eq!(
            links["first"]["href"],
            "/v8/Jobs?organizationId=x&offset=0&limit=30"
        );
        let last = page("/v8/Jobs?offset=60&limit=30", 70);
        assert_eq!(last["results"].as_array().unwrap().len(), 10);
        assert!(last["_links"].get("next").is_none());
        let first = page("/v8/Jobs", 70);
        assert_eq!(
            (first["offset"].clone(), first["limit"].clone()),
            (json!(0), json!(30))
        );
        assert!(first["_links"].get("prev").is_none());
        assert_eq!(
            first["_links"]["self"]["href"],
            "/v8/Jobs?offset=0&limit=30"
        );
    }

    #[test]
    fn bad_paging_parameters_are_validation_errors_and_old_versions_are_arrays() {
        let all = || vec![json!(1), json!(2)];
        for q in ["limit=10001", "limit=-1", "offset=x"] {
            let uri: Uri = format!("/v8/Jobs?{q}").parse().unwrap();
            let e = collection(ApiVersion::V8, &uri, all(), false).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{q}");
        }
        let uri: Uri = "/v7/Jobs?limit=1".parse().unwrap();
        assert_eq!(
            collection(ApiVersion::V7, &uri, all(), false).unwrap(),
            json!([1, 2])
        );
    }
}

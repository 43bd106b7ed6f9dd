//! VBM365 paging for `api --paginate`: `offset`/`limit` pages of `{"results": […]}`, followed
//! through `_links.next` (resolved against the page's own URL, on the tenant's server only) or,
//! when a page names no next one (the OpenAPI specification's `RESTLinkHALDictionary` names no
//! links), by asking for the next `offset` while pages come back full. A page's `setId` (the set
//! the server cached for this listing) goes into the next request when it has none. The items of
//! every page are gathered in one array: at most [`MAX_PAGES`] pages and
//! [`MAX_PAGINATED_BYTES`] of them in all.

use super::api::{same_origin, ApiResponse, Call};
use super::*;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Most pages `paginate` follows before it stops with an error (a server naming a next page
/// forever).
const MAX_PAGES: usize = 100_000;
/// Most bytes of pages `paginate` gathers before it stops with an error; each page is also
/// bounded by [`super::api::MAX_API_BODY`].
pub const MAX_PAGINATED_BYTES: usize = 256 * 1024 * 1024;
// Several full pages fit in what --paginate gathers.
const _: () = assert!(super::api::MAX_API_BODY <= MAX_PAGINATED_BYTES / 4);

/// Requests every page of a collection from `url` on, gathering the items in one array.
pub(super) async fn paginate(
    call: &mut Call<'_>,
    profile: &TenantProfile,
    url: Url,
) -> Result<ApiResponse> {
    let mut gathered = Gathered::new(MAX_PAGINATED_BYTES);
    let mut seen = HashSet::new();
    let mut next = Some(url);
    let mut n = 0;
    while let Some(url) = next.take() {
        n += 1;
        check_next(&mut seen, &url, n)?;
        let ex = call.send(&url).await?;
        if !(200..300).contains(&ex.reply.status) {
            return Ok(call.response(&url, ex, None, n));
        }
        let value: Value = serde_json::from_slice(&ex.reply.body)
            .map_err(|_| bad_page(n, "the reply is not JSON"))?;
        let items = match value {
            Value::Array(a) if n == 1 || a.is_empty() => a,
            Value::Object(mut page) if page.get("results").is_some_and(Value::is_array) => {
                next = next_page(profile, &url, &page, n)?;
                match page.remove("results") {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                }
            }
            // Not a collection: nothing to page through.
            _ if n == 1 => return Ok(call.response(&url, ex, None, 1)),
            _ => return Err(bad_page(n, "the reply is not a page of results")),
        };
        gathered.add(n, ex.reply.body.len(), items)?;
        if next.is_none() {
            let body = serde_json::to_vec(&Value::Array(gathered.items)).unwrap_or_default();
            return Ok(call.response(&url, ex, Some(body), n));
        }
    }
    Err(bad_page(n, "no page was requested"))
}

/// Page `n` may be requested at `url`: not past [`MAX_PAGES`], not a page asked for before.
fn check_next(seen: &mut HashSet<String>, url: &Url, n: usize) -> Result<()> {
    if n > MAX_PAGES {
        return Err(bad_page(
            n,
            &format!("the server still names a next page after {MAX_PAGES} pages; stopped"),
        ));
    }
    if !seen.insert(url.to_string()) {
        return Err(bad_page(n, "the server's next page repeats an earlier one"));
    }
    Ok(())
}

fn bad_page(n: usize, what: &str) -> Error {
    Error::BadResponse {
        service: "the VBM365 server",
        detail: format!("page {n}: {what}"),
    }
}

/// The items of the pages so far, and how many bytes those pages took.
struct Gathered {
    items: Vec<Value>,
    bytes: usize,
    max_bytes: usize,
}

impl Gathered {
    fn new(max_bytes: usize) -> Self {
        Gathered {
            items: Vec::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// Adds the items of page `n` (`page_bytes` long), unless the pages go past the limit.
    fn add(&mut self, n: usize, page_bytes: usize, items: Vec<Value>) -> Result<()> {
        self.bytes = self.bytes.saturating_add(page_bytes);
        if self.bytes > self.max_bytes {
            return Err(bad_page(
                n,
                &format!(
                    "the pages add up to more than {} MiB, the most --paginate gathers; ask for fewer items (a narrower query, or pages of your own with offset and limit)",
                    self.max_bytes / (1024 * 1024)
                ),
            ));
        }
        self.items.extend(items);
        Ok(())
    }
}

/// The page after `page` (page `n`, requested at `url`): its `_links.next`, resolved against
/// `url` and only on the tenant's server; else, when it names none, the next `offset` if this
/// page was full. The page's `setId` goes into the next URL when that has none.
pub(super) fn next_page(
    profile: &TenantProfile,
    url: &Url,
    page: &Map<String, Value>,
    n: usize,
) -> Result<Option<Url>> {
    let href = page
        .get("_links")
        .and_then(|links| links.get("next"))
        .and_then(|next| next.get("href"))
        .and_then(Value::as_str);
    let next = match href {
        Some(href) => {
            let next = url
                .join(href)
                .map_err(|e| bad_page(n, &format!("its next link is not a URL ({e})")))?;
            same_origin(profile, next)?
        }
        None => match after_full_page(url, page) {
            Some(next) => next,
            None => return Ok(None),
        },
    };
    Ok(Some(with_set_id(next, page)))
}

/// `url` with the `offset` after `page`, when `page` holds as many items as its `limit`.
fn after_full_page(url: &Url, page: &Map<String, Value>) -> Option<Url> {
    let n = |k: &str| page.get(k).and_then(Value::as_u64);
    let count = page
        .get("results")
        .and_then(Value::as_array)
        .map_or(0, Vec::len) as u64;
    let (offset, limit) = (n("offset")?, n("limit")?);
    if limit == 0 || count < limit {
        return None;
    }
    let others: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("offset") && !k.eq_ignore_ascii_case("limit"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut next = url.clone();
    next.query_pairs_mut()
        .clear()
        .extend_pairs(others)
        .append_pair("offset", &(offset + count).to_string())
        .append_pair("limit", &limit.to_string());
    Some(next)
}

/// `next` with the page's `setId` (the set the server cached for this listing) when it has none:
/// without it the server would start the listing over from its source.
fn with_set_id(mut next: Url, page: &Map<String, Value>) -> Url {
    let Some(set) = page
        .get("setId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return next;
    };
    if !next
        .query_pairs()
        .any(|(k, _)| k.eq_ignore_ascii_case("setId"))
    {
        next.query_pairs_mut().append_pair("setId", set);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiVersion;

    fn profile() -> TenantProfile {
        let mut p = TenantProfile::new("a.onmicrosoft.com", "https://vbm.example:4443").unwrap();
        p.api_version = ApiVersion::V8;
        p
    }

    fn page(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn next(url: &str, v: Value) -> Result<Option<String>> {
        let url = Url::parse(url).unwrap();
        next_page(&profile(), &url, &page(v), 1).map(|u| u.map(|u| u.to_string()))
    }

    const JOBS: &str = "https://vbm.example:4443/v8/Jobs?limit=2";

    #[test]
    fn the_next_page_comes_from_links_or_from_a_full_page() {
        let linked = serde_json::json!({"offset":0,"limit":2,"results":[1,2],
            "_links":{"self":{"href":"/v8/Jobs?offset=0&limit=2"},"next":{"href":"/v8/Jobs?offset=2&limit=2"}}});
        assert_eq!(
            next(JOBS, linked).unwrap().unwrap(),
            "https://vbm.example:4443/v8/Jobs?offset=2&limit=2"
        );
        let last = serde_json::json!({"offset":2,"limit":2,"results":[3],"_links":{"self":{"href":"/v8/Jobs"}}});
        assert_eq!(next(JOBS, last).unwrap(), None);
        let bare = serde_json::json!({"offset":0,"limit":2,"results":[1,2]});
        assert_eq!(
            next(JOBS, bare).unwrap().unwrap(),
            "https://vbm.example:4443/v8/Jobs?offset=2&limit=2"
        );
        let short = serde_json::json!({"offset":0,"limit":2,"results":[1]});
        assert_eq!(next(JOBS, short).unwrap(), None);
        let elsewhere = serde_json::json!({"offset":0,"limit":2,"results":[1,2],
            "_links":{"next":{"href":"https://evil.example/v8/Jobs?offset=2"}}});
        assert_eq!(next(JOBS, elsewhere).unwrap_err().code(), "invalid_input");
    }

    /// Bugs caught: a full page whose `_links` had no `next` ended the listing (partial data,
    /// exit 0); a relative `next` was resolved against the server's root, not the page; the
    /// page's `setId` was not carried; a bad link was reported as "page 0".
    #[test]
    fn links_without_next_relative_links_and_set_ids() {
        let full_self_only = serde_json::json!({"offset":0,"limit":2,"results":[1,2],
            "_links":{"self":{"href":"/v8/Jobs?offset=0&limit=2"}}});
        assert_eq!(
            next(JOBS, full_self_only).unwrap().unwrap(),
            "https://vbm.example:4443/v8/Jobs?offset=2&limit=2"
        );
        let relative = serde_json::json!({"offset":0,"limit":2,"results":[1,2],
            "_links":{"next":{"href":"Jobs?offset=2&limit=2"}}});
        assert_eq!(
            next(JOBS, relative).unwrap().unwrap(),
            "https://vbm.example:4443/v8/Jobs?offset=2&limit=2"
        );
        let users = "https://vbm.example:4443/v8/Organizations/o/Users?limit=2";
        let set = "8a0c35a1-6f1f-4a47-9d63-3b5b4a8d0c11";
        let computed = serde_json::json!({"offset":0,"limit":2,"setId":set,"results":[1,2]});
        assert_eq!(
            next(users, computed).unwrap().unwrap(),
            format!(
                "https://vbm.example:4443/v8/Organizations/o/Users?offset=2&limit=2&setId={set}"
            )
        );
        let linked = serde_json::json!({"offset":0,"limit":2,"setId":set,"results":[1,2],
            "_links":{"next":{"href":"/v8/Organizations/o/Users?offset=2&limit=2"}}});
        assert!(next(users, linked)
            .unwrap()
            .unwrap()
            .ends_with(&format!("&setId={set}")));
        let has_one = serde_json::json!({"offset":0,"limit":2,"setId":set,"results":[1,2],
            "_links":{"next":{"href":"/v8/Organizations/o/Users?SETID=x&offset=2"}}});
        assert!(next(users, has_one)
            .unwrap()
            .unwrap()
            .ends_with("?SETID=x&offset=2"));
        let bad = serde_json::json!({"offset":0,"limit":2,"results":[1,2],
            "_links":{"next":{"href":"https://[nope/x"}}});
        let url = Url::parse(JOBS).unwrap();
        let e = next_page(&profile(), &url, &page(bad), 7).unwrap_err();
        assert!(
            e.to_string().contains("page 7: its next link is not a URL"),
            "{e}"
        );
    }

    /// Bug caught: the pages gathered had no limit in all (100,000 pages of 256 MiB each), and
    /// hitting the page limit said the next page "repeats an earlier one".
    #[test]
    fn pages_are_bounded_in_number_and_in_bytes() {
        let mut g = Gathered::new(1000);
        g.add(1, 600, vec![Value::from(1)]).unwrap();
        let e = g.add(2, 600, vec![Value::from(2)]).unwrap_err();
        assert_eq!(e.code(), "bad_response");
        assert!(
            e.to_string()
                .contains("page 2: the pages add up to more than"),
            "{e}"
        );
        assert_eq!(g.items, vec![Value::from(1)]);

        let mut seen = HashSet::new();
        let url = Url::parse(JOBS).unwrap();
        check_next(&mut seen, &url, 1).unwrap();
        let e = check_next(&mut seen, &url, 2).unwrap_err();
        assert!(
            e.to_string()
                .contains("page 2: the server's next page repeats"),
            "{e}"
        );
        let other = Url::parse("https://vbm.example:4443/v8/Jobs?offset=9").unwrap();
        let e = check_next(&mut seen, &other, MAX_PAGES + 1).unwrap_err();
        assert!(
            e.to_string()
                .contains("still names a next page after 100000 pages"),
            "{e}"
        );
    }
}

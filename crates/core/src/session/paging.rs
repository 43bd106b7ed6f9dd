//! VBM365 paging for `api --paginate`: `offset`/`limit` pages of `{"results": […]}` (v8), followed
//! through `_links.next` or, when a page has no links, by asking for the next full page; the items
//! of every page gathered in one array.

use super::api::{same_origin, ApiResponse, Call};
use super::*;
use serde_json::Value;
use std::collections::HashSet;

/// Most pages `paginate` follows before it stops with an error (a server sending `next` forever).
const MAX_PAGES: usize = 100_000;

/// Requests every page of a collection from `url` on, gathering the items in one array.
pub(super) async fn paginate(
    call: &mut Call<'_>,
    profile: &TenantProfile,
    url: Url,
) -> Result<ApiResponse> {
    let mut items: Vec<Value> = Vec::new();
    let mut seen = HashSet::new();
    let mut next = Some(url);
    let mut pages = 0;
    while let Some(url) = next.take() {
        if !seen.insert(url.to_string()) || pages >= MAX_PAGES {
            return Err(bad_page(
                pages + 1,
                "the server's next page repeats an earlier one",
            ));
        }
        let ex = call.send(&url).await?;
        pages += 1;
        if !(200..300).contains(&ex.reply.status) {
            return Ok(call.response(&url, ex, None, pages));
        }
        let value: Value = serde_json::from_slice(&ex.reply.body)
            .map_err(|_| bad_page(pages, "the reply is not JSON"))?;
        match value {
            Value::Array(a) if pages == 1 || a.is_empty() => items.extend(a),
            Value::Object(mut page) if page.get("results").is_some_and(Value::is_array) => {
                next = next_page(profile, &url, &page)?;
                if let Some(Value::Array(a)) = page.remove("results") {
                    items.extend(a);
                }
            }
            other if pages == 1 => {
                // Not a collection: nothing to page through.
                let _ = other;
                return Ok(call.response(&url, ex, None, 1));
            }
            _ => return Err(bad_page(pages, "the reply is not a page of results")),
        }
        if next.is_none() {
            let body =
                serde_json::to_vec(&Value::Array(std::mem::take(&mut items))).unwrap_or_default();
            return Ok(call.response(&url, ex, Some(body), pages));
        }
    }
    Err(bad_page(pages, "no page was requested"))
}

fn bad_page(n: usize, what: &str) -> Error {
    Error::BadResponse {
        service: "the VBM365 server",
        detail: format!("page {n}: {what}"),
    }
}

/// The page after `page` (requested at `url`): `_links.next` when the page has links; without
/// links, the next `offset` when this page was full.
pub(super) fn next_page(
    profile: &TenantProfile,
    url: &Url,
    page: &serde_json::Map<String, Value>,
) -> Result<Option<Url>> {
    if let Some(links) = page.get("_links").and_then(Value::as_object) {
        let Some(href) = links
            .get("next")
            .and_then(|n| n.get("href"))
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        let next = profile
            .server
            .join(href)
            .map_err(|e| bad_page(0, &format!("bad next link: {e}")))?;
        return same_origin(profile, next).map(Some);
    }
    let n = |k: &str| page.get(k).and_then(Value::as_u64);
    let count = page
        .get("results")
        .and_then(Value::as_array)
        .map_or(0, Vec::len) as u64;
    match (n("offset"), n("limit")) {
        (Some(offset), Some(limit)) if limit > 0 && count >= limit => {
            let mut next = url.clone();
            let others: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| {
                    !k.eq_ignore_ascii_case("offset") && !k.eq_ignore_ascii_case("limit")
                })
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            next.query_pairs_mut()
                .clear()
                .extend_pairs(others)
                .append_pair("offset", &(offset + count).to_string())
                .append_pair("limit", &limit.to_string());
            Ok(Some(next))
        }
        _ => Ok(None),
    }
}

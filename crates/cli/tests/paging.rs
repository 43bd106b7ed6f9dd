//! `api --paginate` against the emulator's pages, on the real binary: pages whose `_links` name no
//! next page are followed while they come back full, and a page's `setId` goes with every next
//! request (whether the next page comes from a link or from the page's `offset` and `limit`).

mod common;

use common::*;
use vbm365_emulator::Server;

/// The query strings of the requests the VBM365 emulator received for paths ending in `leaf`.
fn queries(env: &Env, leaf: &str) -> Vec<String> {
    env.emu
        .requests()
        .into_iter()
        .filter(|q| q.server == Server::Vbm && q.path.ends_with(leaf))
        .map(|q| q.query.unwrap_or_default())
        .collect()
}

fn names(items: &serde_json::Value) -> Vec<String> {
    items
        .as_array()
        .expect("one JSON array")
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

/// Bug caught: a full page whose `_links` had no `next` ended the listing, and `api --paginate`
/// printed the first page's items with exit 0: partial data, silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_whose_links_name_no_next_page_are_followed_while_they_are_full() {
    let env = Env::with_signed_in_tenant().await;
    env.emu.set_vbm_page_links_without_next(true);
    for (jobs, asked) in [
        (
            65,
            vec!["limit=30", "offset=30&limit=30", "offset=60&limit=30"],
        ),
        // The last page is full: one more request finds nothing after it.
        (
            60,
            vec!["limit=30", "offset=30&limit=30", "offset=60&limit=30"],
        ),
        (7, vec!["limit=30"]),
    ] {
        env.emu.set_vbm_jobs(jobs);
        env.emu.clear_requests();
        let items = env.run(&["api", "Jobs?limit=30", "--paginate"]).ok().json();
        let got = names(&items);
        assert_eq!(got.len(), jobs, "{jobs} jobs");
        assert_eq!(got.last().unwrap(), &format!("Backup job {jobs}"));
        assert_eq!(queries(&env, "/v8/Jobs"), asked, "{jobs} jobs");
    }
}

/// Bug caught: the page's `setId` was not carried to the next request, so each page started a
/// new set on the server (another query of Microsoft 365, possibly another snapshot of it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_set_id_of_a_page_goes_with_every_next_request() {
    let env = Env::with_signed_in_tenant().await;
    env.emu.set_vbm_users(5);
    let org = env.run(&["api", "Organization"]).ok().json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let want: Vec<String> = (1..=5).map(|i| format!("user{i}@{TENANT}")).collect();
    for (version, bare_links) in [("v8", false), ("v8", true), ("v7", false), ("v6", true)] {
        env.emu.set_vbm_page_links_without_next(bare_links);
        env.emu.clear_requests();
        let target = format!("/{version}/Organizations/{org}/Users?limit=2");
        let items = env.run(&["api", &target, "--paginate"]).ok().json();
        assert_eq!(names(&items), want, "{version} bare links: {bare_links}");
        let asked = queries(&env, "/Users");
        assert_eq!(asked.len(), 3, "{version} {bare_links}: {asked:?}");
        assert_eq!(asked[0], "limit=2");
        let sets: Vec<&str> = asked[1..]
            .iter()
            .map(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("setId="))
                    .unwrap_or_else(|| panic!("{version} {bare_links}: no setId in {q}"))
            })
            .collect();
        assert_eq!(sets[0], sets[1], "{asked:?}");
        assert_eq!(
            env.emu.stats().get("vbm_user_sets"),
            Some(&1),
            "{version} {bare_links}: one set for the whole listing ({asked:?})"
        );
    }
}

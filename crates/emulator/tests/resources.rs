//! The read-only REST resources over HTTPS: a tenant sign-in sees its own organization, user and
//! jobs; v8 collections are pages with `_links`, v6/v7 ones arrays; a refused token is a 401.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

async fn get(
    c: &reqwest::Client,
    emu: &vbm365_emulator::Emulators,
    path: &str,
    token: &str,
) -> Reply {
    let req = c.get(format!("{}{path}", emu.vbm_url())).bearer_auth(token);
    Reply::from(req.send().await.expect("request")).await
}

#[tokio::test]
async fn organization_user_and_paged_jobs_of_the_signed_in_tenant() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let t = emu.mint_vbm_tokens(TENANT, "v8").access_token;
    emu.set_vbm_jobs(65);

    let org = get(&c, &emu, "/v8/Organization", &t).await;
    assert_eq!(org.status, StatusCode::OK, "{}", org.text);
    assert_eq!(org.json()["name"], TENANT);
    let user = get(&c, &emu, "/v8/organization/loggedinuser", &t).await;
    assert_eq!(user.json()["name"], format!("admin@{TENANT}"));
    let orgs = get(&c, &emu, "/v8/Organizations", &t).await.json();
    assert_eq!(orgs["results"][0]["id"], org.json()["id"]);

    // Follow `_links.next` from the first page to the last.
    let mut href = "/v8/Jobs?limit=30".to_string();
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let page = get(&c, &emu, &href, &t).await.json();
        pages += 1;
        for j in page["results"].as_array().unwrap() {
            names.push(j["name"].as_str().unwrap().to_string());
        }
        match page["_links"]["next"]["href"].as_str() {
            Some(next) => href = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 65);
    assert_eq!(names[64], "Backup job 65");
    let other = get(
        &c,
        &emu,
        "/v8/Jobs?organizationId=00000000-0000-0000-0000-000000000000",
        &t,
    )
    .await;
    assert_eq!(other.json()["results"], Value::Array(vec![]));

    let v7 = get(&c, &emu, "/v7/Jobs?limit=1", &t).await.json();
    assert_eq!(v7.as_array().map(Vec::len), Some(65), "v7 has no paging");
    let bad = get(&c, &emu, "/v8/Jobs?limit=20000", &t).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["errorCode"], "ParameterValidationFailure");
    assert_eq!(emu.stats().get("vbm_jobs"), Some(&6));
}

#[tokio::test]
async fn refused_tokens_and_a_skewed_clock() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let t = emu.mint_vbm_tokens(TENANT, "v8").access_token;
    assert_eq!(
        get(&c, &emu, "/v8/Jobs", "nope").await.status,
        StatusCode::UNAUTHORIZED
    );
    emu.set_vbm_clock_offset_secs(-600);
    let r = get(&c, &emu, "/v8/ServiceInstance", &t).await;
    let date = chrono::DateTime::parse_from_rfc2822(r.header("date").unwrap()).unwrap();
    let behind = chrono::Utc::now().signed_duration_since(date).num_seconds();
    assert!((595..=610).contains(&behind), "{behind}");
    emu.revoke_vbm_access_tokens();
    let r = get(&c, &emu, "/v8/Organizations", &t).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let fresh = emu.mint_vbm_tokens(TENANT, "v8").access_token;
    assert_eq!(
        get(&c, &emu, "/v8/Organizations", &fresh).await.status,
        StatusCode::OK
    );
    emu.set_vbm_api_rejects_tokens(true);
    assert_eq!(
        get(&c, &emu, "/v8/ServiceInstance", &fresh).await.status,
        StatusCode::UNAUTHORIZED
    );
}

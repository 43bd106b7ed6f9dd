//! The read-only REST resources over HTTPS: a tenant sign-in sees its own organization, user and
//! jobs; v8 collections are pages with `_links`, v6/v7 ones arrays; users are paged with a
//! `setId` on every version; a refused token is a 401; the knobs of a hostile server (crafted
//! tokens, a canned reply to every REST request) and pages without `next`.

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

#[tokio::test]
async fn users_are_paged_with_a_set_id_on_every_version_and_links_name_the_version() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let t = emu.mint_vbm_tokens(TENANT, "v7").access_token;
    emu.set_vbm_users(5);
    let org = get(&c, &emu, "/v7/Organization", &t).await.json();
    let id = org["id"].as_str().unwrap().to_string();
    for v in ["v6", "v7", "v8"] {
        let first = get(
            &c,
            &emu,
            &format!("/{v}/Organizations/{id}/Users?limit=2"),
            &t,
        )
        .await;
        assert_eq!(first.status, StatusCode::OK, "{v}: {}", first.text);
        let first = first.json();
        let set = first["setId"].as_str().expect("setId").to_string();
        assert_eq!(first["results"].as_array().unwrap().len(), 2, "{v}");
        let next = first["_links"]["next"]["href"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            next.starts_with(&format!("/{v}/Organizations/{id}/Users?")),
            "{next}"
        );
        assert!(
            !next.contains("setId"),
            "the link keeps the request's own parameters: {next}"
        );
        let second = get(&c, &emu, &format!("{next}&setId={set}"), &t)
            .await
            .json();
        assert_eq!(second["setId"], set.as_str(), "{v}");
        assert_eq!(second["results"][0]["name"], format!("user3@{TENANT}"));
        let self_link = second["results"][0]["_links"]["self"]["href"]
            .as_str()
            .unwrap();
        assert!(
            self_link.starts_with(&format!("/{v}/Organizations/{id}/Users/")),
            "{self_link}"
        );
        let unknown =
            format!("/{v}/Organizations/{id}/Users?setId=00000000-0000-4000-8000-000000000000");
        assert_eq!(
            get(&c, &emu, &unknown, &t).await.status,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        emu.stats().get("vbm_user_sets"),
        Some(&3),
        "one set per first page"
    );
    let other = "/v8/Organizations/00000000-0000-4000-8000-000000000000/Users";
    assert_eq!(get(&c, &emu, other, &t).await.status, StatusCode::NOT_FOUND);
    // Links of v6 and v7 items name their own version (never /v8/).
    let jobs = get(&c, &emu, "/v7/Jobs", &t).await.json();
    let href = jobs[0]["_links"]["self"]["href"].as_str().unwrap();
    assert!(href.starts_with("/v7/Jobs/"), "{href}");
    let orgs = get(&c, &emu, "/v6/Organizations", &t).await.json();
    let href = orgs[0]["_links"]["self"]["href"].as_str().unwrap();
    assert!(href.starts_with("/v6/Organizations/"), "{href}");

    emu.set_vbm_page_links_without_next(true);
    emu.set_vbm_jobs(65);
    let page = get(&c, &emu, "/v8/Jobs?offset=30&limit=30", &t)
        .await
        .json();
    let names: Vec<&String> = page["_links"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["self"]);
    assert_eq!(page["results"].as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn crafted_tokens_and_a_canned_reply_to_every_rest_request() {
    let emu = start(fast()).await;
    let c = client(&emu);
    let crafted = "x\u{2019}; Start-Process calc; \u{2019}\r\nX-Injected: 1";
    emu.set_vbm_token_prefix(Some(crafted));
    let t = emu.mint_vbm_tokens(TENANT, "v8");
    assert!(t.access_token.starts_with(crafted) && t.refresh_token.starts_with(crafted));
    emu.set_vbm_token_prefix(None);
    let plain = emu.mint_vbm_tokens(TENANT, "v8").access_token;
    assert!(plain.starts_with("AQAAANCMnd8BFdERjHoAwE"), "{plain}");

    let elsewhere = format!("{}/devicelogin", emu.ms_url());
    emu.set_vbm_api_reply(Some(vbm365_emulator::ApiReply::redirect(302, &elsewhere)));
    for path in ["/v8/Jobs", "/v7/ServiceInstance", "/v8/NoSuchThing"] {
        let r = get(&c, &emu, path, &plain).await;
        assert_eq!(r.status, StatusCode::FOUND, "{path}");
        assert_eq!(r.header("location"), Some(elsewhere.as_str()), "{path}");
    }
    let refresh = emu.mint_vbm_tokens(TENANT, "v8").refresh_token;
    let token = c
        .post(format!("{}/v8/token", emu.vbm_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        token.status(),
        StatusCode::OK,
        "token requests are answered as usual"
    );
    emu.set_vbm_api_reply(Some(vbm365_emulator::ApiReply::ok(
        "text/plain",
        "a\x1b[2Jb",
    )));
    let r = get(&c, &emu, "/v8/Jobs", &plain).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "a\x1b[2Jb"));
    emu.set_vbm_api_reply(None);
    assert!(get(&c, &emu, "/v8/Jobs", &plain).await.json()["results"].is_array());
}

//! Scripts and service providers, on the real binary against the emulators: `api` (paging, 401 →
//! one refresh → one retry, pins enforced before any request, exit codes, -i, fields), the
//! redacted `--debug` trace, `env` evaluated by a real shell, `VBM365_AUTH_TENANT`, `token
//! --format header`, `status --check`, `tenant export`/`import`/`edit`, completions and man.

mod common;

use common::*;
use serde_json::Value;
use vbm365_emulator::Server;

/// Requests the VBM365 emulator received for `path` (e.g. `/v8/Jobs`).
fn hits(env: &Env, path: &str) -> Vec<vbm365_emulator::RecordedRequest> {
    env.emu
        .requests()
        .into_iter()
        .filter(|r| r.server == Server::Vbm && r.path.eq_ignore_ascii_case(path))
        .collect()
}

fn token(env: &Env) -> String {
    env.run(&["token"]).ok().stdout.trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginate_follows_every_page_and_prints_one_array() {
    let env = Env::with_signed_in_tenant().await;
    env.emu.set_vbm_jobs(65);
    env.emu.clear_requests();
    let r = env.run(&["api", "Jobs?limit=30", "--paginate"]).ok();
    let items = r.json();
    let names: Vec<&str> = items
        .as_array()
        .expect("one JSON array")
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 65);
    assert_eq!((names[0], names[64]), ("Backup job 1", "Backup job 65"));
    let queries: Vec<String> = hits(&env, "/v8/Jobs")
        .iter()
        .map(|h| h.query.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        queries,
        ["limit=30", "offset=30&limit=30", "offset=60&limit=30"]
    );
    // Without --paginate: the first page as the server sent it.
    let page = env.run(&["api", "/v8/Jobs"]).ok().json();
    assert_eq!(page["results"].as_array().unwrap().len(), 30);
    assert_eq!(
        page["_links"]["next"]["href"],
        "/v8/Jobs?offset=30&limit=30"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_refreshed_once_and_the_request_retried_once() {
    let env = Env::with_signed_in_tenant().await;
    let before = token(&env);
    env.emu.revoke_vbm_access_tokens();
    env.emu.clear_requests();
    let r = env.run(&["api", "ServiceInstance"]).ok();
    assert_eq!(r.json()["version"], "8.1.2.180");
    assert_eq!(hits(&env, "/v8/ServiceInstance").len(), 2);
    assert_eq!(env.grant_count(Server::Vbm, "refresh_token"), 1);
    let after = token(&env);
    assert_ne!(before, after, "the renewed token is stored");
    let sent: Vec<String> = hits(&env, "/v8/ServiceInstance")
        .iter()
        .map(|h| h.header("authorization").unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        sent,
        [format!("Bearer {before}"), format!("Bearer {after}")]
    );

    // A server that refuses every token: still exactly one refresh and one retry, then exit 1.
    env.emu.set_vbm_api_rejects_tokens(true);
    env.emu.clear_requests();
    let r = env.run(&["api", "ServiceInstance"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(hits(&env, "/v8/ServiceInstance").len(), 2);
    assert_eq!(env.grant_count(Server::Vbm, "refresh_token"), 1);
    assert!(
        r.stderr.contains("HTTP 401") && r.stderr.contains("Authorization has been denied"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&after), "no token in messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_certificate_is_refused_before_any_request_reaches_the_server() {
    let env = Env::with_signed_in_tenant().await;
    let path = env.config_dir().join("config.json");
    let cfg = std::fs::read_to_string(&path).unwrap();
    let wrong = "0".repeat(64);
    std::fs::write(&path, cfg.replace(&env.emu.cert_sha256(), &wrong)).unwrap();
    env.emu.clear_requests();
    let r = env.run(&["api", "Organizations"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("does not match its pin"), "{}", r.stderr);
    assert!(
        env.emu.requests().iter().all(|h| h.server != Server::Vbm),
        "a request reached the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_errors_include_and_sign_in_required() {
    let env = Env::with_signed_in_tenant().await;
    let r = env.run(&["api", "NoSuchThing"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("HTTP 404 from GET") && r.stderr.contains("No HTTP resource was found"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.json()["errorCode"],
        "ResourceNotFound",
        "the body on stdout"
    );
    let r = env.run(&["api", "-i", "Organization"]).ok();
    let (head, body) = r
        .stdout
        .split_once("\n\n")
        .expect("headers, blank line, body");
    assert!(head.starts_with("HTTP 200 OK\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let org: Value = serde_json::from_str(body).unwrap();
    assert_eq!(org["name"], TENANT);
    let user = env
        .run(&["api", "/v8/Organization/LoggedInUser"])
        .ok()
        .json();
    assert_eq!(user["name"], format!("admin@{TENANT}"));
    let r = env.run(&["api", "-X", "GET", "Jobs", "-f", "limit=1"]).ok();
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 1);

    env.add_tenant("fabrikam.onmicrosoft.com", "v8");
    let r = env.run(&[
        "api",
        "--tenant",
        "fabrikam.onmicrosoft.com",
        "ServiceInstance",
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("sign-in required"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_prints_a_redacted_trace() {
    let env = Env::with_signed_in_tenant().await;
    let secret = token(&env);
    let r = env.run(&["--debug", "api", "ServiceInstance"]).ok();
    let url = format!("{}/v8/ServiceInstance", env.emu.vbm_url());
    assert!(r.stderr.contains(&format!("> GET {url}")), "{}", r.stderr);
    assert!(
        r.stderr.contains("authorization: Bearer [redacted]"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("< 200 GET {url} in ")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&secret), "token in the trace");
    // The same through VBM365_AUTH_LOG=debug, for a refresh: the form body is never shown.
    let mut cmd = env.cmd(&["refresh"]);
    cmd.env("VBM365_AUTH_LOG", "debug");
    let r = Run::from(cmd.output().unwrap()).ok();
    assert!(r.stderr.contains("> POST "), "{}", r.stderr);
    assert!(r.stderr.contains("not shown"), "{}", r.stderr);
    let stored = token(&env);
    assert!(!r.stderr.contains(&stored) && !r.stderr.contains(&secret));
    assert!(!r.stderr.contains("refresh_token="), "{}", r.stderr);
}

/// bash (Unix); PowerShell's quoting is covered by the unit tests of `env`.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_for_a_real_shell_the_tenant_variable_and_a_header() {
    let env = Env::with_signed_in_tenant().await;
    env.signed_in("fabrikam.onmicrosoft.com", "v7").await;
    let bin = env!("CARGO_BIN_EXE_vbm365-auth");
    let script = format!(
        "eval \"$('{bin}' env --shell bash)\" && printf '%s|%s|%s' \"$VBM365_TENANT\" \"$VBM365_API_URL\" \"$VBM365_ACCESS_TOKEN\""
    );
    let out = in_bash(&env, &script)
        .env("VBM365_AUTH_TENANT", "fabrikam.onmicrosoft.com")
        .output()
        .unwrap();
    let got = String::from_utf8_lossy(&out.stdout).to_string();
    let mut tok = env.cmd(&["token", "fabrikam.onmicrosoft.com"]);
    let fab = Run::from(tok.output().unwrap())
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(
        got,
        format!("fabrikam.onmicrosoft.com|{}/v7|{fab}", env.emu.vbm_url()),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The variable picks the tenant of token and api; a name that is not saved is an error.
    let mut c = env.cmd(&["token", "--format", "header"]);
    c.env("VBM365_AUTH_TENANT", "fabrikam.onmicrosoft.com");
    assert_eq!(
        Run::from(c.output().unwrap()).ok().stdout,
        format!("Authorization: Bearer {fab}\n")
    );
    let mut c = env.cmd(&["api", "ServiceInstance"]);
    c.env("VBM365_AUTH_TENANT", "fabrikam.onmicrosoft.com");
    assert_eq!(
        Run::from(c.output().unwrap()).ok().json()["version"],
        "7.1.0.2031"
    );
    let mut c = env.cmd(&["token"]);
    c.env("VBM365_AUTH_TENANT", "nobody.onmicrosoft.com");
    let r = Run::from(c.output().unwrap());
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("VBM365_AUTH_TENANT=nobody.onmicrosoft.com names no saved tenant"),
        "{}",
        r.stderr
    );
}

/// `bash -c script` with the environment the CLI gets in these tests.
#[cfg(unix)]
fn in_bash(env: &Env, script: &str) -> std::process::Command {
    let template = env.cmd(&[]);
    let mut c = std::process::Command::new("bash");
    c.arg("-c").arg(script);
    for (k, v) in template.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_check_passes_then_fails_with_a_fix() {
    let env = Env::with_signed_in_tenant().await;
    let r = env.run(&["status", "--check", "--json"]).ok();
    let row = &r.json()[0];
    assert_eq!(row["ok"], true, "{row}");
    assert_eq!(row["server_version"], "8.1.2.180");
    assert_eq!(row["user"], format!("admin@{TENANT}"));
    assert_eq!(row["organization"], TENANT);
    assert_eq!(row["certificate"]["trust"], "pin");
    assert_eq!(row["certificate"]["sha256"], env.emu.cert_sha256());
    let days = row["certificate"]["days_left"].as_i64().unwrap();
    assert!((363..=366).contains(&days), "{days}");
    assert!(row["clock_skew_seconds"].as_i64().unwrap().abs() <= 2);

    env.emu.set_vbm_api_rejects_tokens(true);
    let r = env.run(&["status", "--check"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("{TENANT} (active): FAILED")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("answered HTTP 401"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "fix          sign in with `vbm365-auth login {TENANT}`"
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("1 of 1 tenant(s) failed the check"),
        "{}",
        r.stderr
    );
}

/// Bug caught: each probe of `status --check` started from the token the check began with, so
/// after a 401 → refresh in the first probe the next ones sent the stale token and refreshed
/// again (up to three forced refreshes per tenant), and `token_expires_at` was the old expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_check_refreshes_a_refused_token_once_and_reports_the_renewed_expiry() {
    let env = Env::with_signed_in_tenant().await;
    let before = token(&env);
    env.emu.revoke_vbm_access_tokens();
    env.emu.set_vbm_token_lifetime(7200);
    env.emu.clear_requests();
    let r = env.run(&["status", "--check", "--json"]).ok();
    let row = &r.json()[0];
    assert_eq!(row["ok"], true, "{row}");
    assert_eq!(env.emu.stats().get("vbm_refresh"), Some(&1), "{row}");
    let renewed = env.run(&["token", "--json"]).ok().json();
    let after = renewed["access_token"].as_str().unwrap();
    assert_ne!(after, before);
    let sent: Vec<(String, String)> = env
        .emu
        .requests()
        .into_iter()
        .filter(|q| q.server == Server::Vbm && q.method == "GET")
        .map(|q| {
            let auth = q.header("authorization").unwrap_or_default();
            let which = if auth == format!("Bearer {before}") {
                "old"
            } else if auth == format!("Bearer {after}") {
                "renewed"
            } else {
                "other"
            };
            (q.path.clone(), which.to_string())
        })
        .collect();
    let want = [
        ("/v8/ServiceInstance", "old"),
        ("/v8/ServiceInstance", "renewed"),
        ("/v8/Organization", "renewed"),
        ("/v8/Organization/LoggedInUser", "renewed"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(p, w)| (p.to_string(), w.to_string()))
        .collect();
    assert_eq!(sent, want);
    // The renewed token lives 2 h, the refused one 1 h: the row names the renewed one's expiry.
    assert_eq!(row["token_expires_at"], renewed["expires_at"], "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_edit_and_import_errors() {
    let env = Env::with_signed_in_tenant().await;
    let exported = env.run(&["tenant", "export"]).ok().stdout;
    assert!(!exported.contains(&token(&env)));
    let other = Env::new().await;
    let file = other.dir.path().join("tenants.json");
    std::fs::write(&file, &exported).unwrap();
    let r = other
        .run(&["tenant", "import", file.to_str().unwrap(), "--json"])
        .ok();
    assert_eq!(r.json()["added"], serde_json::json!([TENANT]));
    let cfg = other.config_json();
    assert_eq!(
        cfg["tenants"][0]["server"],
        format!("{}/", env.emu.vbm_url())
    );
    assert_eq!(
        cfg["trusted_certificates"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()[0],
        env.emu.cert_sha256()
    );

    let bad = r#"[{"name":"ok.onmicrosoft.com","server":"https://vbm.example.test"},{"name":"x","server":"ftp://x"}]"#;
    std::fs::write(&file, bad).unwrap();
    let before = other.config_json();
    let r = other.run(&["tenant", "import", file.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("entry 2 ('x')"), "{}", r.stderr);
    assert_eq!(other.config_json(), before, "nothing added");

    let r = env
        .run(&["tenant", "edit", TENANT, "--api-version", "v7", "--yes"])
        .ok();
    assert!(r.stderr.contains("was signed out"), "{}", r.stderr);
    assert_eq!(env.state(), "signed_out");
}

/// Bug caught: only `tenant add` refused a client id or scope for a restore operator; `tenant
/// edit` and `tenant import` saved them, and they were never used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_operator_takes_no_client_id_or_scope_on_any_path() {
    let env = Env::new().await;
    env.add_tenant(TENANT, "v8");
    let vbm = env.emu.vbm_url();
    let refusal = vbm365_auth_core::config::OPERATOR_OWN_APP;
    let before = env.config_json();
    let other = "fabrikam.onmicrosoft.com";
    for args in [
        &[
            "tenant",
            "edit",
            TENANT,
            "--role",
            "operator",
            "--client-id",
            "my-app",
        ][..],
        &[
            "tenant",
            "edit",
            TENANT,
            "--role",
            "operator",
            "--scope",
            "User.Read",
        ],
        &[
            "tenant",
            "add",
            other,
            "--server",
            &vbm,
            "--role",
            "operator",
            "--client-id",
            "my-app",
        ],
        &[
            "tenant",
            "add",
            other,
            "--server",
            &vbm,
            "--role",
            "operator",
            "--scope",
            "User.Read",
        ],
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(refusal), "{args:?}: {}", r.stderr);
        assert_eq!(env.config_json(), before, "{args:?} changed the config");
    }
    let file = env.dir.path().join("operators.json");
    for extra in [r#""client_id":"my-app""#, r#""scope":"User.Read""#] {
        let entry = format!(r#"[{{"name":"{other}","server":"{vbm}","role":"operator",{extra}}}]"#);
        std::fs::write(&file, entry).unwrap();
        let r = env.run(&["tenant", "import", file.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{extra}: {}", r.stderr);
        assert!(
            r.stderr.contains("entry 1") && r.stderr.contains(refusal),
            "{}",
            r.stderr
        );
        assert_eq!(
            env.config_json(),
            before,
            "{extra}: the import changed the config"
        );
    }
    // An organization with an application of its own becomes a restore operator: its client id
    // and scope go back to the defaults, and it says so.
    env.run(&[
        "tenant",
        "edit",
        TENANT,
        "--client-id",
        "my-app",
        "--scope",
        "User.Read",
    ])
    .ok();
    let r = env
        .run(&["tenant", "edit", TENANT, "--role", "operator", "--yes"])
        .ok();
    assert!(
        r.stderr
            .contains("Client id and scope are back to the defaults"),
        "{}",
        r.stderr
    );
    let saved = &env.config_json()["tenants"][0];
    assert_eq!(saved["role"], "operator");
    assert_eq!(
        saved["client_id"],
        vbm365_auth_core::config::DEFAULT_CLIENT_ID
    );
    assert_eq!(saved["scope"], vbm365_auth_core::config::DEFAULT_SCOPE);
}

#[test]
fn completions_and_man_page_from_the_binary() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vbm365-auth"))
        .args(["completions", "zsh"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("#compdef vbm365-auth"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vbm365-auth"))
        .args(["man", "api"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("paginate"));
}

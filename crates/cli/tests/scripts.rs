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

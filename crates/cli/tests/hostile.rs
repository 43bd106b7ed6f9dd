//! A server trusted through its pin that turns hostile, and input that once broke the CLI: tokens
//! crafted to break out of a shell line or a header, redirects to another host, terminal escape
//! sequences in a reply, a path beginning with a multi-byte character. The real binary against
//! the emulators.

mod common;

use common::*;
use vbm365_emulator::{ApiReply, Server};

/// The stored token, without asking any server.
fn stored_token(env: &Env) -> String {
    env.run(&["token", "--min-valid", "0"])
        .ok()
        .stdout
        .trim()
        .to_string()
}

/// Bug caught: any non-empty string from the server was taken as a token, so a hostile server
/// could issue `x’; <command>; ’` and have it run by the README's `vbm365-auth env --shell
/// powershell | Out-String | Invoke-Expression` (PowerShell ends a single-quoted string at U+2019
/// too), or a token with CR/LF that adds headers to `token --format header | curl -H @-`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_crafted_for_a_shell_or_a_header_are_refused_and_the_stored_ones_kept() {
    let mut env = Env::with_signed_in_tenant().await;
    env.extra_env
        .push(("VBM365_AUTH_RETRY_BUDGET".into(), "0".into()));
    let before = stored_token(&env);
    for crafted in [
        "x\u{2019}; Start-Process calc; \u{2019}",
        "x'; touch pwned; '",
        "x\r\nX-Injected: 1\r\n",
        "x\"; & calc & \"",
    ] {
        env.emu.set_vbm_token_prefix(Some(crafted));
        for args in [
            &["env", "--shell", "powershell", "--min-valid", "999999"][..],
            &["env", "--shell", "bash", "--min-valid", "999999"],
            &["env", "--shell", "cmd", "--min-valid", "999999"],
            &["token", "--format", "header", "--min-valid", "999999"],
        ] {
            let r = env.run(args);
            assert_eq!(r.code, 1, "{args:?} {crafted:?}: {}", r.stderr);
            assert_eq!(r.stdout, "", "{args:?} {crafted:?}: nothing printed");
            assert!(
                r.stderr.contains("RFC 6750") && r.stderr.contains("stored tokens were kept"),
                "{args:?}: {}",
                r.stderr
            );
            assert!(!r.stderr.contains(crafted.trim()), "{}", r.stderr);
        }
        assert_eq!(
            stored_token(&env),
            before,
            "{crafted:?}: the stored token was kept"
        );
        assert_eq!(env.state(), "signed_in", "{crafted:?}");
    }
    assert!(
        env.emu.stats()["vbm_tokens_issued"] >= 16,
        "the server did issue them"
    );

    // The server behaves again: the next refresh recovers (its rotated refresh token was used
    // up, so through the silent re-sign-in) and the line is the plain token, quoted.
    env.emu.set_vbm_token_prefix(None);
    let r = env.run(&["env", "--shell", "powershell", "--min-valid", "999999"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fresh = stored_token(&env);
    assert_ne!(fresh, before);
    assert!(
        r.stdout
            .contains(&format!("$Env:VBM365_ACCESS_TOKEN = '{fresh}'\n")),
        "{}",
        r.stdout
    );
}

/// `api` never follows a redirect: a server that answers 3xx to another host gets its 3xx
/// reported, and not one request (so no token) reaches that host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_never_follows_a_redirect_to_another_host() {
    let env = Env::with_signed_in_tenant().await;
    let elsewhere = format!("{}/devicelogin?from=vbm", env.emu.ms_url());
    for status in [301, 302, 303, 307, 308] {
        env.emu
            .set_vbm_api_reply(Some(ApiReply::redirect(status, &elsewhere)));
        env.emu.clear_requests();
        for args in [&["api", "Jobs"][..], &["api", "Jobs", "--paginate"]] {
            let r = env.run(args);
            assert_eq!(r.code, 1, "{status} {args:?}: {}", r.stderr);
            assert!(
                r.stderr.contains(&format!("HTTP {status} from GET")),
                "{}",
                r.stderr
            );
            assert!(
                r.stderr.contains(&format!(
                    "a redirect to {elsewhere}, which vbm365-auth does not follow"
                )),
                "{}",
                r.stderr
            );
        }
        let reached: Vec<_> = env
            .emu
            .requests()
            .into_iter()
            .filter(|q| q.server == Server::Ms)
            .collect();
        assert!(reached.is_empty(), "{status}: {reached:?}");
        let jobs = env
            .emu
            .requests()
            .into_iter()
            .filter(|q| q.server == Server::Vbm && q.path == "/v8/Jobs")
            .count();
        assert_eq!(jobs, 2, "{status}: one request per command, no retry");
    }
    // Proof that the counting works: the same address asked directly is recorded there.
    env.emu.clear_requests();
    let host = env.emu.ms_url().trim_start_matches("http://").to_string();
    let mut direct = std::net::TcpStream::connect(&host).unwrap();
    let ask =
        format!("GET /devicelogin?from=vbm HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    std::io::Write::write_all(&mut direct, ask.as_bytes()).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut direct, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let reached = env.emu.requests();
    assert_eq!(reached.len(), 1);
    assert_eq!(
        (reached[0].server, reached[0].path.as_str()),
        (Server::Ms, "/devicelogin")
    );
}

/// Bug caught: a reply that is not JSON went to the terminal as it came, escape sequences
/// included (a hostile server could retitle, clear or rewrite the terminal). Unix: the terminal is
/// a pseudo-terminal made by `script`.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_is_not_json_reaches_a_terminal_without_control_characters() {
    let env = Env::with_signed_in_tenant().await;
    let body = "before\x1b]0;pwned\x07\x1b[2J\rafter\u{202e}txt\nline 2\n";
    env.emu
        .set_vbm_api_reply(Some(ApiReply::ok("text/plain", body)));
    let shown = on_a_terminal(&env, &["api", "Jobs"]);
    assert!(shown.contains("before]0;pwned[2Jaftertxt"), "{shown:?}");
    assert!(shown.contains("line 2"), "{shown:?}");
    assert!(
        !shown.contains(['\x1b', '\x07', '\u{202e}']),
        "control characters reached the terminal: {shown:?}"
    );
    // A pipe gets the bytes as they came: scripts see the server's reply.
    let r = env.run(&["api", "Jobs"]).ok();
    assert_eq!(r.stdout, body);
}

/// Runs the CLI with its stdout on a terminal (a pseudo-terminal of `script`); what the terminal
/// was sent.
#[cfg(unix)]
fn on_a_terminal(env: &Env, args: &[&str]) -> String {
    let template = env.cmd(args);
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = quote(template.get_program().to_str().unwrap());
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut c = std::process::Command::new("script");
    c.args(["-q", "-e", "-c", &line, "/dev/null"]);
    for (k, v) in template.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux) runs the CLI on a pseudo-terminal");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
}

/// Bug caught: a path beginning with a multi-byte character panicked (`api éJobs`, exit 101).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_beginning_with_a_multibyte_character_is_an_http_error_not_a_panic() {
    let env = Env::with_signed_in_tenant().await;
    env.emu.clear_requests();
    for (target, path) in [("éJobs", "/v8/%C3%A9Jobs"), ("/😀", "/v8/%F0%9F%98%80")] {
        let r = env.run(&["api", target]);
        assert_eq!(r.code, 1, "{target}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert!(r.stderr.contains("HTTP 404 from GET"), "{}", r.stderr);
        assert!(
            env.emu.requests().iter().any(|q| q.path == path),
            "{target}: no request for {path}"
        );
    }
}

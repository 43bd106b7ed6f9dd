//! The browser sign-in's figure (group `signin`): from the moment the redirect reaches the loopback
//! listener of a waiting `vbm365-auth login --browser` to its `signed_in` line — the code redeemed
//! at Microsoft, the reply exchanged with VBM365 and the tokens stored in the vault (a keyring
//! call). The bench plays the browser as the tests do: it approves on the emulator's authorize
//! page, then starts the clock and delivers the redirect.

use crate::{cli_path, median, ms, signed_out_fixture, Row};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vbm365_emulator::{browser, Emulators};

/// Sign-ins measured.
const RUNS: usize = 10;
/// The goal, from the redirect at the listener to signed in.
const GOAL: Duration = Duration::from_secs(1);

pub async fn rows(emu: &Emulators) -> Vec<Row> {
    let cli = cli_path();
    let dir = signed_out_fixture(emu, RUNS);
    let mut times = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        match one(&cli, dir.path(), &format!("signin{i}.onmicrosoft.com")).await {
            Ok(t) => times.push(t),
            Err(e) => {
                return vec![Row {
                    what: "browser sign-in: redirect at the listener to signed in (CLI)".into(),
                    figure: format!("failed: {e}"),
                    target: format!("<= {}", ms(GOAL)),
                    verdict: "MISSED",
                }]
            }
        }
    }
    let max = times.iter().copied().max().unwrap_or_default();
    let med = median(&mut times);
    vec![Row {
        what: format!("browser sign-in: redirect at the listener to signed in (CLI, {RUNS} runs)"),
        figure: format!("median {}, max {}", ms(med), ms(max)),
        target: format!("<= {}", ms(GOAL)),
        verdict: if max <= GOAL { "met" } else { "MISSED" },
    }]
}

/// One `login --browser`: the time from delivering the redirect to the `signed_in` line.
async fn one(
    cli: &std::path::Path,
    dir: &std::path::Path,
    tenant: &str,
) -> Result<Duration, String> {
    let mut child = Command::new(cli)
        .args(["login", tenant, "--browser", "--json", "--no-browser"])
        .env("VBM365_AUTH_CONFIG_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, String)>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send((Instant::now(), line));
        }
    });
    let next = |rx: &std::sync::mpsc::Receiver<(Instant, String)>| {
        rx.recv_timeout(Duration::from_secs(30))
            .map_err(|_| "login printed nothing for 30 s".to_string())
    };
    let (_, first) = tokio::task::block_in_place(|| next(&rx))?;
    let ev: serde_json::Value = serde_json::from_str(&first).map_err(|e| e.to_string())?;
    let url = ev["authorize_url"].as_str().ok_or(first.clone())?;
    let location = browser::choose(url, true)
        .await
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    browser::get(&location).await.map_err(|e| e.to_string())?;
    let (at, last) = tokio::task::block_in_place(|| next(&rx))?;
    let _ = child.wait();
    if !last.contains("\"signed_in\"") {
        return Err(last);
    }
    Ok(at - start)
}

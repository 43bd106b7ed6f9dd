//! Proxies: loopback hosts are always reached directly, a dead proxy is named in the error, and
//! `tenant trust` probes through the same proxy as the requests that follow.

mod common;

use common::{Env, TENANT};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A forward proxy that tunnels `CONNECT host:port` to 127.0.0.1:port (every name resolves to
/// this machine) and records the request lines it saw.
struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(tunnel(client, log.clone()));
            }
        });
        Proxy { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

async fn tunnel(mut client: TcpStream, log: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    log.lock().unwrap().push(line.clone());
    let Some(target) = line
        .strip_prefix("CONNECT ")
        .and_then(|r| r.split_whitespace().next())
    else {
        let _ = client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let port: u16 = target.rsplit(':').next().unwrap().parse().unwrap();
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .unwrap();
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_hosts_never_go_through_the_proxy() {
    let mut env = Env::new().await;
    let dead = format!("http://127.0.0.1:{}", closed_port());
    for var in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "https_proxy",
        "http_proxy",
        "ALL_PROXY",
    ] {
        env.extra_env.push((var.into(), dead.clone()));
    }
    env.signed_in(TENANT, "v8").await;
    env.run(&["refresh"]).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_proxy_is_named_in_the_error() {
    let mut env = Env::new().await;
    let dead = format!("http://127.0.0.1:{}", closed_port());
    env.extra_env.push(("HTTPS_PROXY".into(), dead.clone()));
    env.run(&[
        "tenant",
        "add",
        TENANT,
        "--server",
        "https://vbm.proxied.test:4443",
        "--authority",
        "https://login.proxied.test",
    ])
    .ok();
    let r = env.run(&["tenant", "trust", TENANT, "--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("through the proxy {dead}")),
        "{}",
        r.stderr
    );
    let r = env.run(&["login", "--json", "--no-browser"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let ev = r.last_event();
    assert_eq!(ev["code"], "network", "{ev}");
    assert!(
        ev["message"]
            .as_str()
            .unwrap()
            .contains(&format!("through the proxy {dead}")),
        "{ev}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_trust_and_the_requests_after_it_use_the_same_proxy() {
    let proxy = Proxy::start().await;
    let mut env = Env::new().await;
    env.extra_env.push(("HTTPS_PROXY".into(), proxy.url()));
    let vbm_port = env.emu.vbm_url().rsplit(':').next().unwrap().to_string();
    let server = format!("https://vbm.proxied.test:{vbm_port}");
    env.run(&[
        "tenant",
        "add",
        TENANT,
        "--server",
        &server,
        "--authority",
        &env.emu.ms_url(),
    ])
    .ok();
    let r = env.run(&["tenant", "trust", TENANT, "--yes"]).ok();
    assert!(r.stdout.contains(&env.emu.cert_sha256()), "{}", r.stdout);
    let connect = format!("CONNECT vbm.proxied.test:{vbm_port} HTTP/1.1");
    assert_eq!(
        proxy.seen(),
        vec![connect.clone()],
        "the probe went through the proxy"
    );
    let r = env.login(TENANT).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    env.run(&["refresh"]).ok();
    // The exchange and the refresh went through it too; Microsoft (loopback here) did not.
    let seen = proxy.seen();
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(seen.iter().all(|l| l == &connect), "{seen:?}");
}

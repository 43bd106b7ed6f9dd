//! `api <PATH or URL>`: an authenticated request to the tenant's VBM365 REST API. The request
//! itself is the core's ([`Engine::api`]); this turns the options into it and the reply into
//! output: the body on stdout (indented JSON on a terminal), `-i` status and headers first, exit 0
//! on 2xx and 1 on an HTTP error with the server's message on stderr.

use crate::cli::ApiArgs;
use crate::output::{errln, Io, EXIT_FAILURE};
use serde_json::{Map, Value};
use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;
use vbm365_auth_core::session::{ApiRequest, ApiResponse};
use vbm365_auth_core::{text, Engine, Error, Result};

pub async fn run(
    engine: &Engine,
    tenant: Option<&str>,
    a: ApiArgs,
    io: &mut Io<'_>,
) -> Result<ExitCode> {
    let req = request(&a, io)?;
    let r = engine.api(tenant, &req).await?;
    print(&r, a.include, a.pretty, io)?;
    if r.is_success() {
        return Ok(ExitCode::SUCCESS);
    }
    errln!(
        io,
        "error: HTTP {} from {} {}: {}",
        r.status,
        method_of(&req),
        r.url,
        r.error_message.as_deref().unwrap_or_default()
    );
    Ok(ExitCode::from(EXIT_FAILURE))
}

fn method_of(req: &ApiRequest) -> &str {
    if req.method.is_empty() {
        "GET"
    } else {
        &req.method
    }
}

/// The core's request from the options: fields in the query (GET/HEAD, or with --input) or as a
/// JSON object body.
fn request(a: &ApiArgs, io: &mut Io<'_>) -> Result<ApiRequest> {
    let mut fields = Vec::new();
    for f in &a.raw_fields {
        let (k, v) = key_value(f, "-f")?;
        fields.push((k, Value::String(v)));
    }
    for f in &a.fields {
        let (k, v) = key_value(f, "-F")?;
        fields.push((k, typed(&v)?));
    }
    let body = match a.input.as_deref() {
        Some(file) => Some(read_input(file, io)?),
        None => None,
    };
    let method = match &a.method {
        Some(m) => m.trim().to_ascii_uppercase(),
        None if !fields.is_empty() && body.is_none() => "POST".into(),
        None => "GET".into(),
    };
    let in_query = body.is_some() || method == "GET" || method == "HEAD";
    let mut req = ApiRequest {
        method,
        target: a.path.clone(),
        headers: a.headers.iter().map(|h| header(h)).collect::<Result<_>>()?,
        paginate: a.paginate,
        min_valid: Duration::from_secs(a.min_valid),
        body,
        ..ApiRequest::default()
    };
    if in_query {
        req.query = fields
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect();
    } else if !fields.is_empty() {
        let object: Map<String, Value> = fields.into_iter().collect();
        req.body = Some(Value::Object(object).to_string().into_bytes());
    }
    Ok(req)
}

fn key_value(raw: &str, flag: &str) -> Result<(String, String)> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(Error::InvalidInput(format!(
            "{flag} {raw}: give a field as KEY=VALUE"
        ))),
    }
}

/// `-F` values: `true`, `false`, `null` and numbers as JSON, `@FILE` a file's text, else a string.
fn typed(v: &str) -> Result<Value> {
    if let Some(path) = v.strip_prefix('@') {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_string(),
            source: e,
        })?;
        return Ok(Value::String(text));
    }
    Ok(match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => match serde_json::from_str::<serde_json::Number>(v) {
            Ok(n) => Value::Number(n),
            Err(_) => Value::String(v.to_string()),
        },
    })
}

fn header(raw: &str) -> Result<(String, String)> {
    match raw.split_once(':') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(Error::InvalidInput(format!(
            "-H {raw}: give a header as 'Name: value'"
        ))),
    }
}

/// The JSON body of `--input FILE` (or `-`: standard input), checked to be JSON.
fn read_input(file: &str, io: &mut Io<'_>) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let read = if file == "-" {
        io.input.read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes))
    };
    let name = if file == "-" { "standard input" } else { file };
    read.map_err(|e| Error::Io {
        path: name.to_string(),
        source: e,
    })?;
    serde_json::from_slice::<Value>(&bytes)
        .map_err(|e| Error::InvalidInput(format!("--input {name} is not JSON: {e}")))?;
    Ok(bytes)
}

fn print(r: &ApiResponse, include: bool, pretty: bool, io: &mut Io<'_>) -> Result<()> {
    let mut out = Vec::new();
    if include {
        let reason = reqwest_reason(r.status);
        out.extend_from_slice(format!("HTTP {} {reason}\n", r.status).as_bytes());
        for (k, v) in &r.headers {
            out.extend_from_slice(format!("{k}: {v}\n").as_bytes());
        }
        out.push(b'\n');
    }
    match serde_json::from_slice::<Value>(&r.body) {
        Ok(v) if pretty => {
            let text = serde_json::to_string_pretty(&v).unwrap_or_default();
            out.extend_from_slice(text.as_bytes());
        }
        // On a terminal a body that is not JSON is shown without its control characters (escape
        // sequences could retitle, clear or rewrite the terminal); a pipe gets it as it came.
        Err(_) if pretty => out.extend_from_slice(text::for_terminal(&r.body).as_bytes()),
        _ => out.extend_from_slice(&r.body),
    }
    if out.last().is_some_and(|b| *b != b'\n') {
        out.push(b'\n');
    }
    io.out
        .write_all(&out)
        .and_then(|()| io.out.flush())
        .map_err(|source| Error::Io {
            path: "stdout".into(),
            source,
        })
}

/// The standard reason phrase of a status (`-i`).
fn reqwest_reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{Fixture, Streams, A};
    use std::process::ExitCode;
    use vbm365_emulator::{EmulatorOptions, Emulators};

    async fn signed_in() -> (Fixture, Emulators) {
        let emu = Emulators::start(EmulatorOptions::default()).await.unwrap();
        let f = Fixture::with_tenants(&[]);
        f.signed_in_on(&emu, A).await;
        (f, emu)
    }

    #[tokio::test]
    async fn fields_go_in_the_query_for_get_and_in_a_json_body_otherwise() {
        let (f, emu) = signed_in().await;
        let r = f
            .run(&[
                "api",
                "-X",
                "get",
                "Jobs",
                "-f",
                "limit=2",
                "-F",
                "offset=1",
                "-H",
                "X-Trace: 1",
            ])
            .await;
        assert_eq!(r.code, ExitCode::SUCCESS, "{}", r.err);
        let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
        assert_eq!(v["offset"], 1);
        let sent = emu.requests().pop().unwrap();
        assert_eq!(sent.path, "/v8/Jobs");
        assert_eq!(sent.query.as_deref(), Some("limit=2&offset=1"));
        assert_eq!(sent.header("x-trace"), Some("1"));
        // POST with typed fields: a JSON object body (the emulator answers 405: read-only).
        let r = f
            .run(&[
                "api",
                "Jobs",
                "-F",
                "isEnabled=false",
                "-F",
                "n=3",
                "-f",
                "name=x",
            ])
            .await;
        assert_eq!(r.code, ExitCode::from(1));
        let sent = emu.requests().pop().unwrap();
        assert_eq!(sent.method, "POST");
        assert_eq!(
            String::from_utf8_lossy(&sent.body),
            r#"{"isEnabled":false,"n":3,"name":"x"}"#
        );
        assert!(r.err.contains("error: HTTP 405 from POST"), "{}", r.err);
        assert!(
            r.err.contains("does not support http method 'POST'"),
            "{}",
            r.err
        );
    }

    #[tokio::test]
    async fn input_must_be_json_and_bad_options_are_usage_errors() {
        let (f, _emu) = signed_in().await;
        let streams = Streams::new("{not json", false);
        let r = f
            .run_with(&["api", "-X", "PUT", "Jobs", "--input", "-"], streams)
            .await;
        assert_eq!(r.code, ExitCode::from(2), "{}", r.err);
        assert!(
            r.err.contains("--input standard input is not JSON"),
            "{}",
            r.err
        );
        for (args, says) in [
            (
                &["api", "Jobs", "-f", "novalue"][..],
                "give a field as KEY=VALUE",
            ),
            (
                &["api", "Jobs", "-H", "NoColon"][..],
                "give a header as 'Name: value'",
            ),
            (
                &["api", "Jobs", "-H", "Authorization: Bearer x"][..],
                "set by vbm365-auth",
            ),
            (
                &["api", "https://example.com/v8/Jobs"][..],
                "sends its token only there",
            ),
        ] {
            let r = f.run(args).await;
            assert_eq!(r.code, ExitCode::from(2), "{args:?}: {}", r.err);
            assert!(r.err.contains(says), "{args:?}: {}", r.err);
        }
    }
}

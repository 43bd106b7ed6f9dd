//! The verification page (`/devicelogin`) where a person enters the user code, and the `/error`
//! page that `error_uri` points to. Plain HTML with inline CSS: no scripts, no external resources.

use crate::serve::App;
use crate::types::DeviceCodeState;
use crate::util::{self, html_escape, Fields};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

const STYLE: &str = "body{font-family:Segoe UI,Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0}\
main{max-width:440px;margin:10vh auto;background:#fff;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}\
h1{font-size:24px;font-weight:600;margin:0 0 16px}p{font-size:15px;line-height:1.4}\
input{font-size:20px;letter-spacing:2px;width:100%;box-sizing:border-box;padding:6px;border:0;border-bottom:1px solid #666;text-transform:uppercase}\
.buttons{margin-top:24px;display:flex;gap:8px;justify-content:flex-end}\
button{font-size:15px;padding:8px 20px;border:1px solid #0067b8;cursor:pointer}\
button[value=approve]{background:#0067b8;color:#fff}button[value=decline]{background:#fff;color:#0067b8}\
.error{color:#e81123}.note{color:#666;font-size:13px}";

fn page(title: &str, inner_html: &str) -> Response {
    page_with(
        title,
        inner_html,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    )
}

/// A page of the emulator with this Content-Security-Policy (the authorize page's form leads to
/// a redirect to the app's loopback address, which `form-action 'self'` would block).
pub(crate) fn page_with(title: &str, inner_html: &str, csp: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head>\
<body><main>{inner_html}<p class=\"note\">Microsoft identity platform emulator (VBM365 Auth test bench)</p></main></body></html>\n",
        html_escape(title)
    );
    util::response(
        StatusCode::OK,
        "text/html; charset=utf-8",
        html,
        &[
            ("cache-control", "no-store".to_string()),
            ("content-security-policy", csp.to_string()),
            ("x-frame-options", "DENY".to_string()),
        ],
    )
}

fn form(prefill: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", html_escape(e)))
        .unwrap_or_default();
    format!(
        "<h1>Enter code</h1>\
<p>Enter the code displayed on your app or device.</p>{error}\
<form method=\"post\" action=\"/devicelogin\">\
<label for=\"otc\">Code</label>\
<input type=\"text\" name=\"otc\" id=\"otc\" value=\"{}\" maxlength=\"32\" autocomplete=\"off\" autofocus required>\
<div class=\"buttons\">\
<button type=\"submit\" name=\"action\" value=\"decline\" id=\"decline\">Decline</button>\
<button type=\"submit\" name=\"action\" value=\"approve\" id=\"approve\">Approve</button>\
</div></form>",
        html_escape(prefill)
    )
}

/// `GET /devicelogin` (optionally `?otc=CODE` to fill the field in).
pub(crate) async fn show(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    app.shared.lock().count("ms_devicelogin_pages");
    let prefill = query
        .map(|q| Fields(util::parse_form(q.as_bytes())))
        .and_then(|f| f.get("otc").map(str::to_string))
        .unwrap_or_default();
    page("Enter code", &form(&prefill, None))
}

/// `POST /devicelogin` with `otc` and `action=approve|decline`.
pub(crate) async fn submit(State(app): State<App>, body: Bytes) -> Response {
    let fields = Fields(util::parse_form(&body));
    let code = fields.get("otc").unwrap_or_default();
    let approve = match fields.get("action") {
        Some("approve") => true,
        Some("decline") => false,
        _ => {
            return page(
                "Enter code",
                &form(code, Some("Choose Approve or Decline.")),
            )
        }
    };
    let mut inner = app.shared.lock();
    inner.count("ms_devicelogin_submits");
    let Some(dc) = inner.by_user_code(code) else {
        drop(inner);
        return page(
            "Enter code",
            &form(
                code,
                Some("That code didn't work. Check the code and try again."),
            ),
        );
    };
    let tenant = html_escape(&dc.tenant);
    if let Some(refusal) = unusable(&dc.state) {
        return refusal;
    }
    dc.state = if approve {
        DeviceCodeState::Approved
    } else {
        DeviceCodeState::Declined
    };
    decided(approve, &tenant)
}

/// The page for a code that can no longer be approved or declined; `None` while it is pending.
fn unusable(state: &DeviceCodeState) -> Option<Response> {
    match state {
        DeviceCodeState::Pending => None,
        DeviceCodeState::Expired => Some(page(
            "Code expired",
            &form(
                "",
                Some("That code has expired. Go back to your app or device and start again."),
            ),
        )),
        _ => Some(page(
            "Code already used",
            &form(
                "",
                Some("That code was already used. Go back to your app or device and start again."),
            ),
        )),
    }
}

/// What the person sees after approving or declining sign-in to `tenant` (already HTML-escaped).
fn decided(approve: bool, tenant: &str) -> Response {
    if approve {
        page(
            "Signed in",
            &format!(
                "<h1>You're signed in</h1><p id=\"result\">You have signed in to {tenant} on your device. You may now close this window.</p>"
            ),
        )
    } else {
        page(
            "Sign-in declined",
            &format!(
                "<h1>Sign-in declined</h1><p id=\"result\">You have declined to sign in to {tenant} on your device. You may now close this window.</p>"
            ),
        )
    }
}

/// `GET /error?code=N`: what `error_uri` points to.
pub(crate) async fn error_page(RawQuery(query): RawQuery) -> Response {
    let code = query
        .map(|q| Fields(util::parse_form(q.as_bytes())))
        .and_then(|f| f.get("code").map(str::to_string))
        .unwrap_or_default();
    page(
        "Error lookup",
        &format!(
            "<h1>Error code AADSTS{}</h1><p>This is the error lookup page of the emulated identity platform.</p>",
            html_escape(&code)
        ),
    )
}

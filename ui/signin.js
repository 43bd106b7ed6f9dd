// The sign-in panel. Device code: the user code (copied automatically by Rust), "Open sign-in
// page", the address as text, a countdown. Browser: Microsoft's page opens in the default browser
// (the answer comes back to the app on 127.0.0.1), "Open sign-in page" again, the address as text,
// how long the app waits. Both: live status from `sign-in-progress` events, Cancel, "Try again",
// a switch to the other method, and one click to the browser method when Conditional Access
// refused the device code.
import { countdown, remaining, errorTitle, remedyHint } from "./format.js";

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;
const $ = (sel) => document.querySelector(sel);

let tenant = null;
let attempt = null;
let method = null;
let expiresAt = 0;
let timer = null;
let finished = false;

const HINTS = {
  sign_in_declined: "The request was declined on the sign-in page. Try again and approve it.",
  device_code_expired: "Codes are valid for a limited time. Try again and enter the new code promptly.",
  conditional_access_blocked: "Your organization's Conditional Access policy blocked this sign-in. Ask your Microsoft 365 administrator.",
  certificate_pin_mismatch: "The server presented a different certificate than the trusted one. If it was renewed on purpose, choose Forget trusted certificate on the tenant, then sign in again to trust the new certificate.",
  certificate_untrusted: "Trust the server's certificate (you will be asked when you try again).",
  network: "Check the server address, that the server is running and that this computer can reach it.",
  timeout: "Check that the server is running and reachable.",
  browser_sign_in_timeout: "Try again and approve the sign-in in the browser page that opens.",
  operator_auth_disabled: "Ask the VBM365 administrator to enable the Restore Portal, or sign in as the organization.",
};

function show(el, on = true) { $(el).hidden = !on; }

function status(text) { $("#signin-status").textContent = text; }

const sentence = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

function fail(code, message, remedy) {
  message = sentence(message);
  finished = true;
  stopTimer();
  status("");
  $("#signin-error-title").textContent = errorTitle(code);
  const hint = remedy === "use_browser_sign_in" ? remedyHint(remedy) : (HINTS[code] || remedyHint(remedy));
  $("#signin-error-message").textContent = hint ? `${message} ${hint}` : message;
  show("#signin-error");
  show("#signin-code-box", false);
  show("#signin-browser-box", false);
  show("#signin-switch-row", false);
  show("#signin-retry");
  // A device code refused by Conditional Access: the browser method is one click away.
  const browser = remedy === "use_browser_sign_in";
  show("#signin-use-browser", browser);
  $("#signin-cancel").textContent = "Close";
  (browser ? $("#signin-use-browser") : $("#signin-retry")).focus();
}

function stopTimer() { clearInterval(timer); timer = null; }

function reset() {
  finished = false;
  attempt = null;
  stopTimer();
  show("#signin-error", false);
  show("#signin-retry", false);
  show("#signin-use-browser", false);
  show("#signin-done", false);
  show("#signin-code-box", false);
  show("#signin-browser-box", false);
  show("#signin-switch-row", false);
  show("#signin-browser-blocked", false);
  show("#signin-copied", false);
  show("#signin-uri-blocked", false);
  $("#signin-cancel").textContent = "Cancel";
  $("#signin-cancel").hidden = false;
}

/**
 * Opens the panel and starts a sign-in of `name` with `chosen` ("device_code" or "browser"; the
 * tenant's own method when null).
 */
export async function openSignIn(name, chosen = null) {
  tenant = name;
  method = chosen;
  reset();
  $("#signin-title").textContent = "Sign in";
  $("#signin-tenant").textContent = name;
  status(chosen === "browser" ? "Opening Microsoft's sign-in page…" : "Starting the sign-in…");
  const d = $("#signin-dialog");
  if (!d.open) d.showModal();
  $("#signin-cancel").focus();
  let info;
  try {
    info = await invoke("start_sign_in", { name, method: chosen });
  } catch (e) {
    if (tenant === name) fail(e.code, e.message || String(e), e.remedy);
    return;
  }
  if (!d.open) {
    // Closed while the code was requested: stop the sign-in that just started.
    invoke("cancel_sign_in").catch(() => {});
    return;
  }
  if (tenant !== name) return;
  attempt = info.attempt;
  method = info.method;
  $("#signin-switch").textContent = method === "browser" ? "Use a device code instead" : "Use the browser instead";
  show("#signin-switch-row");
  if (method === "browser") {
    showBrowser(info);
    return;
  }
  $("#signin-code").textContent = info.user_code;
  $("#signin-uri").textContent = info.verification_uri;
  show("#signin-copied", info.code_copied);
  $("#signin-open").disabled = !info.can_open;
  if (!info.can_open) {
    $("#signin-uri-blocked").textContent = info.open_blocked_reason || "This address is shown as text only.";
    show("#signin-uri-blocked");
  }
  show("#signin-code-box");
  expiresAt = Date.now() + info.expires_in * 1000;
  const tick = () => { $("#signin-countdown").textContent = countdown(expiresAt); };
  tick();
  timer = setInterval(tick, 1000);
  status("Waiting for you to approve the sign-in in the browser…");
  if (info.can_open) $("#signin-open").focus();
}

/** The browser method's half of the panel. */
function showBrowser(info) {
  $("#signin-browser-uri").textContent = info.verification_uri;
  $("#signin-browser-open").disabled = !info.can_open;
  if (!info.can_open) {
    $("#signin-browser-blocked").textContent = info.open_blocked_reason || "This address is shown as text only.";
    show("#signin-browser-blocked");
  }
  $("#signin-browser-open").textContent = info.page_opened ? "Open sign-in page again" : "Open sign-in page";
  show("#signin-browser-box");
  expiresAt = Date.now() + info.expires_in * 1000;
  const tick = () => { $("#signin-browser-countdown").textContent = countdown(expiresAt); };
  tick();
  timer = setInterval(tick, 1000);
  status(info.page_opened
    ? "Waiting for you to approve the sign-in in the browser…"
    : "Open the sign-in page and approve the sign-in…");
  if (info.can_open) $("#signin-browser-open").focus();
}

listen("sign-in-progress", (ev) => {
  const p = ev.payload;
  if (p.attempt !== attempt || finished) return;
  switch (p.status) {
    case "waiting":
      status("Waiting for you to approve the sign-in in the browser…");
      break;
    case "exchanging":
      show("#signin-browser-box", false);
      status("Approved. Exchanging the sign-in with the VBM365 server…");
      break;
    case "slowed_down":
      status(`Waiting for approval (Microsoft asked to check less often: every ${p.interval} s)…`);
      break;
    case "retrying":
      status(`Connection problem (${p.reason}); retrying in ${p.next_poll_in} s…`);
      break;
    case "signed_in": {
      finished = true;
      stopTimer();
      show("#signin-code-box", false);
      show("#signin-browser-box", false);
      show("#signin-switch-row", false);
      const left = p.expires_at ? remaining(Date.parse(p.expires_at)) : null;
      status(`Signed in${p.user ? ` as ${p.user}` : ""}.${left ? ` The token expires in ${left}; it is refreshed automatically.` : ""}`);
      $("#signin-cancel").hidden = true;
      show("#signin-done");
      $("#signin-done").focus();
      break;
    }
    case "error":
      fail(p.code, p.message, p.remedy);
      break;
    case "cancelled":
      finished = true;
      stopTimer();
      break;
  }
});

$("#signin-copy").addEventListener("click", async () => {
  try {
    await invoke("copy_user_code");
    show("#signin-copied");
    $("#signin-copied").textContent = "(copied to the clipboard)";
  } catch (e) {
    status(e.message || String(e));
  }
});

async function openPage(blockedEl) {
  try {
    await invoke("open_sign_in_page");
  } catch (e) {
    $(blockedEl).textContent = `${e.message || e} Open the address above yourself.`;
    show(blockedEl);
  }
}

$("#signin-browser-open").addEventListener("click", () => openPage("#signin-browser-blocked"));
$("#signin-switch").addEventListener("click", async () => {
  if (!tenant || finished) return;
  const other = method === "browser" ? "device_code" : "browser";
  const name = tenant;
  try { await invoke("cancel_sign_in"); } catch (_) { /* nothing to cancel */ }
  openSignIn(name, other);
});
$("#signin-use-browser").addEventListener("click", () => { if (tenant) openSignIn(tenant, "browser"); });

$("#signin-open").addEventListener("click", () => openPage("#signin-uri-blocked"));

async function cancelAndClose() {
  const d = $("#signin-dialog");
  if (!finished && attempt !== null) {
    try { await invoke("cancel_sign_in"); } catch (_) { /* nothing to cancel */ }
  }
  finished = true;
  tenant = null;
  stopTimer();
  if (d.open) d.close();
}

$("#signin-cancel").addEventListener("click", cancelAndClose);
$("#signin-done").addEventListener("click", cancelAndClose);
$("#signin-retry").addEventListener("click", () => { if (tenant) openSignIn(tenant, method); });
// Escape closes the dialog: treat it as Cancel.
$("#signin-dialog").addEventListener("cancel", (ev) => { ev.preventDefault(); cancelAndClose(); });

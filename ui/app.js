// VBM365 Auth window: renders the state pushed by Rust (`state-changed`) and calls the app's
// commands. No token ever reaches this page: copying happens in Rust.
import { remaining, STATE_TEXT, fingerprint, errorTitle, remedyHint } from "./format.js";
import { openSignIn } from "./signin.js";

const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

const $ = (sel, root = document) => root.querySelector(sel);
let snapshot = { tenants: [], settings: {}, plaintext_storage: false, config_dir: "" };

// ----- notices ------------------------------------------------------------------------------

let noticeTimer = null;
export function notice(text, kind = "ok") {
  const n = $("#notice");
  n.textContent = text;
  n.className = `banner ${kind === "error" ? "error" : kind === "warn" ? "warn" : ""}`;
  n.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { n.hidden = true; }, kind === "error" ? 12000 : 5000);
}

function rowResult(name, text, isError = false) {
  const li = document.querySelector(`li.tenant[data-name="${CSS.escape(name)}"]`);
  if (!li) return notice(text, isError ? "error" : "ok");
  const r = $(".result", li);
  r.textContent = text;
  r.classList.toggle("error", isError);
  r.hidden = false;
}

function errText(e) {
  if (e && typeof e === "object" && e.message) {
    const hint = remedyHint(e.remedy);
    return hint ? `${e.message.replace(/\.?$/, ".")} ${hint}` : e.message;
  }
  return String(e);
}

// ----- tenant list --------------------------------------------------------------------------

function expiryText(t) {
  if (!t.expires_at) return "";
  const left = remaining(Date.parse(t.expires_at));
  return left ? `expires in ${left}` : "access token expired";
}

function render(snap) {
  snapshot = snap;
  $("#plaintext-warning").hidden = !snap.plaintext_storage;
  $("#config-dir").textContent = snap.config_dir;
  $("#set-auto-refresh").checked = !!snap.settings.auto_refresh;
  $("#set-close-to-tray").checked = !!snap.settings.close_to_tray;
  $("#set-start-at-login").checked = !!snap.settings.start_at_login;
  const list = $("#tenants");
  $("#empty").hidden = snap.tenants.length > 0;
  // Keep earlier action results visible across re-renders of the same tenant.
  const results = new Map();
  list.querySelectorAll("li.tenant").forEach((li) => {
    const r = $(".result", li);
    if (!r.hidden) results.set(li.dataset.name, { text: r.textContent, error: r.classList.contains("error") });
  });
  const focused = document.activeElement;
  const focusKey = focused && focused.closest && focused.closest("li.tenant")
    ? [focused.closest("li.tenant").dataset.name, focused.dataset.act] : null;
  list.replaceChildren(...snap.tenants.map((t) => row(t, results.get(t.name))));
  if (focusKey) {
    const li = list.querySelector(`li.tenant[data-name="${CSS.escape(focusKey[0])}"]`);
    const b = li && li.querySelector(`[data-act="${focusKey[1]}"]`);
    if (b && !b.disabled) b.focus();
  }
}

function row(t, result) {
  const li = $("#tenant-row").content.firstElementChild.cloneNode(true);
  li.dataset.name = t.name;
  li.classList.toggle("is-active", t.active);
  $(".name", li).textContent = t.name;
  $(".active-badge", li).hidden = !t.active;
  const pill = $(".state", li);
  pill.textContent = STATE_TEXT[t.state] || t.state;
  pill.classList.add(t.state);
  $(".server", li).textContent = t.server.replace(/\/$/, "");
  $(".api", li).textContent = [`API ${t.api_version}`,
    t.role === "operator" ? "restore operator" : "", t.sign_in_method === "browser" ? "browser sign-in" : ""]
    .filter(Boolean).join(" · ");
  $(".authority", li).textContent = new URL(t.authority).host;
  const exp = $(".expiry", li);
  exp.textContent = expiryText(t);
  if (t.expires_at) exp.dataset.expires = t.expires_at;
  $(".user", li).textContent = t.user ? `user ${t.user}` : "";
  if (t.detail) { const d = $(".detail", li); d.textContent = t.detail; d.hidden = false; }
  if (result) { const r = $(".result", li); r.textContent = result.text; r.classList.toggle("error", result.error); r.hidden = false; }
  const hasTokens = t.state === "signed_in" || t.state === "expired";
  const signIn = $('[data-act="sign-in"]', li);
  signIn.textContent = hasTokens ? "Sign in again" : "Sign in";
  signIn.classList.toggle("primary", !hasTokens);
  for (const act of ["refresh", "copy", "test", "sign-out"]) $(`[data-act="${act}"]`, li).disabled = !hasTokens;
  $('[data-act="activate"]', li).hidden = t.active;
  $('[data-act="untrust"]', li).hidden = !t.trusted;
  li.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-act]");
    if (b) act(b.dataset.act, t, b);
  });
  return li;
}

/** Runs a command from a row button; the button is disabled while it runs. */
async function busy(button, job) {
  button.disabled = true;
  try { return await job(); } finally { button.disabled = false; }
}

async function act(action, t, button) {
  const name = t.name;
  try {
    switch (action) {
      case "sign-in":
        if (await ensureTrusted(t)) openSignIn(name);
        break;
      case "refresh": {
        const r = await busy(button, () => invoke("refresh_now", { name }));
        rowResult(name, `Token refreshed; expires in ${remaining(Date.parse(r.expires_at)) || "—"}.`);
        break;
      }
      case "copy": {
        const r = await busy(button, () => invoke("copy_token", { name }));
        rowResult(name, `Access token copied to the clipboard (valid ${remaining(Date.parse(r.expires_at)) || "—"}).`);
        break;
      }
      case "test": {
        rowResult(name, "Testing the connection…");
        const r = await busy(button, () => invoke("test_connection", { name }));
        rowResult(name, `Connection OK: VBM365 server version ${r.version || "unknown"}.`);
        break;
      }
      case "sign-out": {
        const warning = await busy(button, () => invoke("sign_out", { name }));
        rowResult(name, warning ? `Signed out here (the server said: ${warning}).` : "Signed out.");
        break;
      }
      case "activate":
        render(await invoke("switch_tenant", { name }));
        notice(`${name} is now the active tenant.`);
        break;
      case "edit":
        openTenantForm(t);
        break;
      case "untrust": {
        const host = serverHost(t.server);
        const sharing = snapshot.tenants.filter((x) => serverHost(x.server) === host).map((x) => x.name);
        const others = sharing.length > 1 ? ` It is shared by every tenant on this server: ${sharing.join(", ")}.` : "";
        if (await confirmDialog("Forget trusted certificate?",
          `Forget the certificate (and any certificate authority) trusted for ${host}? The next sign-in to it asks again whether to trust its certificate.${others}`,
          "Forget")) {
          const r = await busy(button, () => invoke("remove_trust", { name }));
          const what = [...r.pins, ...r.ca_sha256].map(fingerprint).join(", ");
          render(await invoke("get_state"));
          rowResult(name, what ? `Forgot the trusted certificate of ${r.host_port} (${what}).` : `Nothing was trusted for ${r.host_port}.`);
        }
        break;
      }
      case "remove":
        if (await confirmDialog("Remove tenant?", `Sign out of ${name} and forget it on this computer?`, "Remove")) {
          render(await invoke("remove_tenant", { name }));
          notice(`${name} removed.`);
        }
        break;
    }
  } catch (e) {
    rowResult(name, `${errorTitle(e.code)}: ${errText(e)}`, true);
  }
}

/** `host:port` of a server URL (the default port filled in), as trust is kept per `host:port`. */
function serverHost(server) {
  const u = new URL(server);
  return `${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
}

// Ticking expiry.
setInterval(() => {
  document.querySelectorAll(".expiry[data-expires]").forEach((el) => {
    const left = remaining(Date.parse(el.dataset.expires));
    el.textContent = left ? `expires in ${left}` : "access token expired";
  });
}, 1000);

// ----- confirm ------------------------------------------------------------------------------

function confirmDialog(title, text, yes = "OK") {
  const d = $("#confirm-dialog");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-yes").textContent = yes;
  return new Promise((resolve) => {
    const done = (v) => { d.close(); cleanup(); resolve(v); };
    const onYes = () => done(true);
    const onNo = () => done(false);
    const onCancel = () => { cleanup(); resolve(false); };
    const cleanup = () => {
      $("#confirm-yes").removeEventListener("click", onYes);
      $("#confirm-no").removeEventListener("click", onNo);
      d.removeEventListener("close", onCancel);
    };
    $("#confirm-yes").addEventListener("click", onYes);
    $("#confirm-no").addEventListener("click", onNo);
    d.addEventListener("close", onCancel);
    d.showModal();
    $("#confirm-no").focus();
  });
}

// ----- trust on first use -------------------------------------------------------------------

/** Before the first connection to an https server whose certificate the system does not trust,
 *  shows its SHA-256 fingerprint and pins it if the user agrees. Resolves true to go on. */
export async function ensureTrusted(t) {
  if (!t.server.startsWith("https:")) return true;
  let info;
  try {
    info = await invoke("probe_certificate", { name: t.name });
  } catch (e) {
    // Unreachable now: let the sign-in report the error in its own words.
    return true;
  }
  // Already trusted (the system's roots, a CA trusted for this server, or the pin): nothing to
  // ask. A different pinned certificate is a hard error, never a "trust?" question: the sign-in
  // reports the mismatch with both fingerprints.
  if (info.system_trusted || info.ca_trusted || info.pinned || info.pin_mismatch) return true;
  const d = $("#trust-dialog");
  $("#trust-host").textContent = info.host_port;
  $("#trust-fingerprint").textContent = fingerprint(info.sha256);
  $(".form-error", d).textContent = "";
  return new Promise((resolve) => {
    const finish = (v) => { cleanup(); if (d.open) d.close(); resolve(v); };
    const onOk = async () => {
      try {
        await invoke("pin_certificate", { name: t.name, sha256: info.sha256 });
        notice(`Certificate of ${info.host_port} trusted.`);
        finish(true);
      } catch (e) { $(".form-error", d).textContent = errText(e); }
    };
    const onNo = () => finish(false);
    const onClose = () => { cleanup(); resolve(false); };
    const cleanup = () => {
      $("#trust-ok").removeEventListener("click", onOk);
      $("#trust-cancel").removeEventListener("click", onNo);
      d.removeEventListener("close", onClose);
    };
    $("#trust-ok").addEventListener("click", onOk);
    $("#trust-cancel").addEventListener("click", onNo);
    d.addEventListener("close", onClose);
    d.showModal();
    $("#trust-cancel").focus();
  });
}

// ----- add / edit ---------------------------------------------------------------------------

const PRESETS = ["https://login.microsoftonline.com", "https://login.microsoftonline.us", "https://login.partner.microsoftonline.cn"];
let editing = null;

function openTenantForm(t = null) {
  editing = t;
  const d = $("#tenant-dialog");
  const f = $("#tenant-form");
  f.reset();
  f.querySelectorAll(".field-error, .form-error").forEach((e) => { e.textContent = ""; });
  f.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  $("#tenant-dialog-title").textContent = t ? `Edit ${t.name}` : "Add tenant";
  $("#f-name").readOnly = !!t;
  $("#f-activate-label").hidden = !!t;
  const authority = t ? t.authority.replace(/\/$/, "") : PRESETS[0];
  const preset = PRESETS.includes(authority) ? authority : "custom";
  $("#f-authority-preset").value = preset;
  $("#f-authority").hidden = preset !== "custom";
  $("#f-authority").value = preset === "custom" ? authority : "";
  if (t) {
    $("#f-name").value = t.name;
    $("#f-server").value = t.server.replace(/\/$/, "");
    $("#f-api").value = t.api_version;
    $("#f-client-id").value = t.client_id;
    $("#f-scope").value = t.scope;
    $("#f-remember").checked = t.remember_ms_sign_in;
    $("#f-method").value = t.sign_in_method || "device_code";
    $("#f-role").value = t.role || "organization";
  } else {
    $("#f-activate").checked = snapshot.tenants.length === 0;
  }
  d.showModal();
  (t ? $("#f-server") : $("#f-name")).focus();
}

$("#f-authority-preset").addEventListener("change", (e) => {
  const custom = e.target.value === "custom";
  $("#f-authority").hidden = !custom;
  if (custom) $("#f-authority").focus();
});

$("#tenant-cancel").addEventListener("click", () => $("#tenant-dialog").close());

$("#tenant-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  f.querySelectorAll(".field-error, .form-error").forEach((e) => { e.textContent = ""; });
  f.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  const preset = $("#f-authority-preset").value;
  const form = {
    name: $("#f-name").value,
    server: $("#f-server").value,
    api_version: $("#f-api").value,
    authority: preset === "custom" ? $("#f-authority").value : preset,
    client_id: $("#f-client-id").value,
    scope: $("#f-scope").value,
    remember_ms_sign_in: $("#f-remember").checked,
    sign_in_method: $("#f-method").value,
    role: $("#f-role").value,
    activate: $("#f-activate").checked,
  };
  // Tokens belong to the endpoints that issued them: a new server, API version, authority or
  // client id signs the tenant out (the engine deletes its tokens). Say so before saving.
  if (editing && (editing.state === "signed_in" || editing.state === "expired")) {
    const norm = (u) => (u || "").trim().replace(/\/+$/, "").toLowerCase();
    const moved = norm(form.server) !== norm(editing.server)
      || form.api_version !== editing.api_version
      || norm(form.authority) !== norm(editing.authority)
      || form.client_id.trim() !== editing.client_id
      || form.role !== editing.role;
    if (moved && !(await confirmDialog("Sign out and save?",
      `${editing.name}'s tokens were issued for the current server and sign-in settings. Saving these changes signs it out; sign in again afterwards.`,
      "Sign out and save"))) {
      return;
    }
  }
  const save = $("#tenant-save");
  save.disabled = true;
  try {
    const snap = await invoke(editing ? "update_tenant" : "add_tenant", { form });
    $("#tenant-dialog").close();
    render(snap);
    const typed = form.name.trim().toLowerCase();
    const t = snap.tenants.find((x) => x.name.toLowerCase() === typed);
    const name = t ? t.name : form.name.trim();
    notice(editing ? `${name} saved.` : `${name} added.`);
    if (t && !editing) await ensureTrusted(t);
  } catch (e) {
    const slot = e.field && f.querySelector(`.field-error[data-for="${e.field}"]`);
    if (slot) {
      slot.textContent = errText(e);
      const input = f.querySelector(`[name="${e.field}"]`);
      if (input) { input.setAttribute("aria-invalid", "true"); if (!input.hidden) input.focus(); }
      if (e.field === "client_id" || e.field === "scope") f.querySelector("details").open = true;
    } else {
      $(".form-error", f).textContent = errText(e);
    }
  } finally {
    save.disabled = false;
  }
});

$("#add-tenant").addEventListener("click", () => openTenantForm());

// ----- settings -----------------------------------------------------------------------------

for (const id of ["#set-auto-refresh", "#set-close-to-tray", "#set-start-at-login"]) {
  $(id).addEventListener("change", async () => {
    const settings = {
      auto_refresh: $("#set-auto-refresh").checked,
      close_to_tray: $("#set-close-to-tray").checked,
      start_at_login: $("#set-start-at-login").checked,
    };
    try {
      render(await invoke("set_settings", { settings }));
      notice("Settings saved.");
    } catch (e) {
      notice(errText(e), "error");
      render(snapshot);
    }
  });
}

// ----- start --------------------------------------------------------------------------------

async function signInActive() {
  const t = snapshot.tenants.find((x) => x.active);
  if (t && (await ensureTrusted(t))) openSignIn(t.name);
}

listen("state-changed", (ev) => render(ev.payload));
listen("tray-sign-in", signInActive);

// The window exists only while it is open: one opened by the tray's "Sign in…" loads with
// #sign-in, since it was not listening yet when that was clicked.
const signInFirst = location.hash === "#sign-in";
if (signInFirst) history.replaceState(null, "", location.pathname);
invoke("get_state")
  .then((snap) => {
    render(snap);
    // When the first tenant list reached the screen (two frames later), for `make bench`.
    requestAnimationFrame(() => requestAnimationFrame(() => performance.mark("tenant-list-painted")));
    if (signInFirst) signInActive();
  })
  .catch((e) => notice(errText(e), "error"));

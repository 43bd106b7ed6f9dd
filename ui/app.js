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
  // A row not drawn now (filtered out, or not scrolled to yet) keeps the result for when it is.
  const entry = rows.get(name);
  if (!entry) return notice(text, isError ? "error" : "ok");
  const r = $(".result", rowOf(entry));
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
  $("#list-tools").hidden = snap.tenants.length === 0;
  // Rows are kept by tenant and rebuilt only when the tenant's view changed, so a state change
  // of one tenant among hundreds touches one row (and keeps focus, open menus and results).
  const focused = document.activeElement;
  const focusedRow = focused && focused.closest ? focused.closest("li.tenant") : null;
  const focusKey = focusedRow ? [focusedRow.dataset.name, focused.dataset.act || null, focused === focusedRow] : null;
  order = snap.tenants.map((t) => {
    const key = JSON.stringify(t);
    const old = rows.get(t.name);
    if (old && old.key === key) return old;
    // Built when it is drawn; a result shown in the old row carries over.
    const result = old ? (old.li ? savedResult(old.li) : old.result) : null;
    const entry = { key, t, li: null, hay: null, result };
    rows.set(t.name, entry);
    return entry;
  });
  const names = new Set(snap.tenants.map((t) => t.name));
  for (const name of [...rows.keys()]) if (!names.has(name)) rows.delete(name);
  renderCounts();
  applyFilter(false);
  if (focusKey && !list.contains(focused)) {
    const li = rows.get(focusKey[0])?.li;
    if (li && li.isConnected) {
      const b = focusKey[1] && li.querySelector(`[data-act="${focusKey[1]}"]`);
      if (b && !b.disabled && !b.hidden) b.focus();
      else if (focusKey[2]) li.focus();
    }
  }
}

/** Tenants by name: `t` the tenant, `key` its view as JSON, `li` its row once built (kept while
 *  the view is the same, drawn or not), `hay` what the filter matches, `result` a row result
 *  waiting for the row to be built. */
const rows = new Map();
/** The tenants in list order, and those the filter lets through. */
let order = [];
let matches = [];

/** How many rows are drawn at a time: the list holds the first `drawn` tenants the filter lets
 *  through, and the next page is drawn when the end of the drawn rows nears the screen. Showing or
 *  hiding hundreds of rows at once is what made a keystroke in the filter slow; 40 rows (about
 *  four screens) kept every key of `make bench`'s filter run within its goal. */
const PAGE = 40;
let drawn = PAGE;

/** The tenant's row, built on first use. */
function rowOf(entry) {
  if (!entry.li) {
    entry.li = row(entry.t, entry.result);
    entry.result = null;
  }
  return entry.li;
}

/** Makes `list`'s children exactly `items`, in order, moving only what is out of place. */
function place(list, items) {
  let at = list.firstElementChild;
  for (const li of items) {
    if (li === at) at = at.nextElementSibling;
    else list.insertBefore(li, at);
  }
  while (at) { const n = at.nextElementSibling; at.remove(); at = n; }
}

/** Draws the first `drawn` matching rows; the space of the rest stays below them (`#more-rows`),
 *  so the scroll bar has the length of the whole list. */
function draw() {
  const items = matches.slice(0, drawn).map(rowOf);
  for (const li of items) if (!li.isConnected) tickExpiry($(".expiry", li));
  place($("#tenants"), items);
  if (openRow && !openRow.isConnected) closeMenu();
  const rest = matches.length - items.length;
  const more = $("#more-rows");
  more.hidden = rest === 0;
  more.style.setProperty("--rows", String(rest));
  // Watched afresh: the observer reports when it starts watching, so a page drawn while the end
  // is still near the screen is followed by the next.
  nearEnd.unobserve(more);
  if (rest > 0) nearEnd.observe(more);
}

const nearEnd = new IntersectionObserver((seen) => {
  if (seen.some((e) => e.isIntersecting) && drawn < matches.length) {
    drawn += PAGE;
    draw();
  }
}, { rootMargin: "0px 0px 100% 0px" });

function savedResult(li) {
  const r = $(".result", li);
  return r.hidden ? null : { text: r.textContent, error: r.classList.contains("error") };
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
  const server = $(".server", li);
  server.textContent = t.server.replace(/^https?:\/\//, "").replace(/\/$/, "");
  server.title = t.server;
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
  // The main action beside the state; the rest in the row's menu.
  const main = $(".main-act", li);
  main.dataset.act = hasTokens ? "copy" : "sign-in";
  main.textContent = hasTokens ? "Copy token" : "Sign in";
  main.classList.toggle("primary", !hasTokens);
  $('.row-menu [data-act="sign-in"]', li).textContent = hasTokens ? "Sign in again" : "Sign in";
  $(`.row-menu [data-act="${main.dataset.act}"]`, li).hidden = true;
  for (const a of ["refresh", "copy", "test", "sign-out"]) {
    li.querySelectorAll(`[data-act="${a}"]`).forEach((b) => { b.disabled = !hasTokens; });
  }
  $('[data-act="activate"]', li).hidden = t.active;
  $('[data-act="untrust"]', li).hidden = !t.trusted;
  li.addEventListener("click", (ev) => {
    if (ev.target.closest(".menu-button")) return toggleMenu(li);
    const b = ev.target.closest("button[data-act]");
    if (b) {
      closeMenu();
      return act(b.dataset.act, t, b);
    }
    if (!ev.target.closest("button, a, input")) li.focus();
  });
  return li;
}

// ----- filter, counts, keyboard -------------------------------------------------------------

/** The state chip pressed, if any: only tenants in that state show. */
let stateFilter = null;

/** What the filter box matches: name, server and state, in lower case. */
function haystack(t) {
  return `${t.name}\n${t.server}\n${STATE_TEXT[t.state] || t.state}`.toLowerCase();
}

/** Finds the tenants the filter lets through and draws the first of them: from the first page
 *  when the filter changed (`fresh`), else as many rows as were drawn. */
function applyFilter(fresh = true) {
  const words = $("#filter").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  matches = order.filter((e) => (!stateFilter || e.t.state === stateFilter)
    && words.every((w) => (e.hay || (e.hay = haystack(e.t))).includes(w)));
  if (fresh) drawn = PAGE;
  draw();
  const shown = matches.length;
  const total = snapshot.tenants.length;
  $("#shown-count").textContent = shown === total ? "" : `${shown} of ${total} shown`;
  $("#no-match").hidden = shown > 0 || total === 0;
}

function renderCounts() {
  const by = new Map();
  for (const t of snapshot.tenants) by.set(t.state, (by.get(t.state) || 0) + 1);
  if (stateFilter && !by.has(stateFilter)) stateFilter = null;
  const chip = (state, label, n) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `chip ${state || "all"}`;
    b.dataset.state = state || "";
    b.setAttribute("aria-pressed", String(stateFilter === state));
    b.textContent = `${label} ${n}`;
    return b;
  };
  const chips = [chip(null, "All", snapshot.tenants.length)];
  for (const state of Object.keys(STATE_TEXT)) {
    if (by.has(state)) chips.push(chip(state, STATE_TEXT[state], by.get(state)));
  }
  const counts = $("#counts");
  const same = counts.children.length === chips.length
    && chips.every((c, i) => counts.children[i].outerHTML === c.outerHTML);
  if (!same) counts.replaceChildren(...chips);
}

$("#counts").addEventListener("click", (ev) => {
  const b = ev.target.closest("button.chip");
  if (!b) return;
  stateFilter = b.dataset.state || null;
  renderCounts();
  applyFilter();
});

$("#filter").addEventListener("input", () => applyFilter());
$("#filter").addEventListener("keydown", (ev) => {
  if (ev.key === "ArrowDown" || ev.key === "Enter") {
    ev.preventDefault();
    if (matches.length) focusRow(0);
  } else if (ev.key === "Escape" && ev.target.value) {
    ev.preventDefault();
    ev.target.value = "";
    applyFilter();
  }
});

/** Focuses the `i`th tenant the filter lets through, drawing the pages up to it first. */
function focusRow(i) {
  if (i >= drawn) {
    drawn = Math.ceil((i + 1) / PAGE) * PAGE;
    draw();
  }
  rowOf(matches[i]).focus();
}

$("#tenants").addEventListener("keydown", (ev) => {
  const li = ev.target.closest("li.tenant");
  if (!li) return;
  const menu = $(".row-menu", li);
  if (!menu.hidden && menu.contains(ev.target)) return menuKey(ev, li);
  if (ev.target !== li) return;
  const i = matches.indexOf(rows.get(li.dataset.name));
  const go = (j) => { ev.preventDefault(); if (matches.length) focusRow(Math.max(0, Math.min(matches.length - 1, j))); };
  switch (ev.key) {
    case "ArrowDown": return go(i + 1);
    case "ArrowUp":
      if (i === 0) { ev.preventDefault(); return $("#filter").focus(); }
      return go(i - 1);
    case "Home": return go(0);
    case "End": return go(matches.length - 1);
    case "PageDown": return go(i + 10);
    case "PageUp": return go(i - 10);
    case "Enter": {
      ev.preventDefault();
      const t = rows.get(li.dataset.name)?.t;
      if (t && !t.active) act("activate", t, null);
      return;
    }
    case "Escape":
      ev.preventDefault();
      return $("#filter").focus();
    case "ContextMenu":
      ev.preventDefault();
      return openMenu(li);
    case "F10":
      if (ev.shiftKey) { ev.preventDefault(); openMenu(li); }
      return;
  }
});

// "/" (or Ctrl+F) anywhere outside a text field goes to the filter.
document.addEventListener("keydown", (ev) => {
  if (document.querySelector("dialog[open]")) return;
  const inField = ev.target.closest && ev.target.closest("input, select, textarea");
  if ((ev.key === "/" && !inField) || (ev.key === "f" && (ev.ctrlKey || ev.metaKey))) {
    ev.preventDefault();
    $("#filter").focus();
    $("#filter").select();
  }
});

// ----- row menu -----------------------------------------------------------------------------

let openRow = null;

function menuItems(li) {
  return [...$(".row-menu", li).children].filter((b) => !b.hidden && !b.disabled);
}

function openMenu(li) {
  if (openRow && openRow !== li) closeMenu();
  openRow = li;
  $(".row-menu", li).hidden = false;
  $(".menu-button", li).setAttribute("aria-expanded", "true");
  const first = menuItems(li)[0];
  if (first) first.focus();
}

function closeMenu(focusButton = false) {
  const li = openRow;
  if (!li) return;
  openRow = null;
  $(".row-menu", li).hidden = true;
  const button = $(".menu-button", li);
  button.setAttribute("aria-expanded", "false");
  if (focusButton) button.focus();
}

function toggleMenu(li) {
  if (openRow === li) closeMenu(true);
  else openMenu(li);
}

function menuKey(ev, li) {
  const items = menuItems(li);
  const i = items.indexOf(ev.target);
  const go = (j) => { ev.preventDefault(); items[(j + items.length) % items.length].focus(); };
  switch (ev.key) {
    case "ArrowDown": return go(i + 1);
    case "ArrowUp": return go(i - 1);
    case "Home": return go(0);
    case "End": return go(items.length - 1);
    case "Escape": ev.preventDefault(); return closeMenu(true);
    case "Tab": return closeMenu();
  }
}

// A click outside the row whose menu is open closes the menu.
document.addEventListener("click", (ev) => {
  if (openRow && !openRow.contains(ev.target)) closeMenu();
});

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

// Ticking expiry of the rows drawn (only text that changed is written: hundreds of rows tick);
// a row drawn again is brought up to date first.
function tickExpiry(el) {
  if (!el.dataset.expires) return;
  const left = remaining(Date.parse(el.dataset.expires));
  const text = left ? `expires in ${left}` : "access token expired";
  if (el.textContent !== text) el.textContent = text;
}
setInterval(() => document.querySelectorAll(".expiry[data-expires]").forEach(tickExpiry), 1000);

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

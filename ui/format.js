// Pure formatting helpers of the window.

/** "42 min", "1 h 5 min", "30 s" until `at` (ms epoch), or null if past. */
export function remaining(atMs, nowMs = Date.now()) {
  const s = Math.floor((atMs - nowMs) / 1000);
  if (s <= 0) return null;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** mm:ss countdown. */
export function countdown(atMs, nowMs = Date.now()) {
  const s = Math.max(0, Math.floor((atMs - nowMs) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export const STATE_TEXT = {
  signed_in: "Signed in",
  signed_out: "Signed out",
  expired: "Token expired",
  sign_in_required: "Sign-in required",
  error: "Error",
};

/** AA:BB:… form of a hex fingerprint. */
export function fingerprint(hex) {
  return (hex.toUpperCase().match(/.{1,2}/g) || []).join(":");
}

/** A title for an error code, so each failure reads clearly. */
export const ERROR_TITLES = {
  // Codes of the core (vbm365_auth_core::Error::code); tests/contract.rs checks that every one
  // has a title here.
  invalid_input: "Please check what was entered",
  tenant_not_found: "This tenant is not saved",
  tenant_exists: "A tenant with this name is already saved",
  no_active_tenant: "No tenant is active",
  sign_in_required: "Sign-in required",
  sign_in_declined: "The sign-in was declined",
  device_code_expired: "The code expired before it was used",
  bad_verification_code: "Microsoft did not recognise the code",
  browser_sign_in_timeout: "No answer came back from the browser",
  restore_portal_app_not_public: "The Restore Portal's app registration does not allow this sign-in",
  operator_auth_disabled: "Restore operator sign-in is disabled on the server",
  operator_refused: "The VBM365 server refused the restore operator's sign-in",
  conditional_access_blocked: "Blocked by a Conditional Access policy",
  invalid_grant: "Microsoft refused the sign-in",
  identity_error: "Microsoft refused the sign-in",
  cancelled: "Sign-in cancelled",
  server_rejected: "The VBM365 server refused the request",
  exchange_refused: "The VBM365 server refused the organization's sign-in",
  throttled: "The server is busy (too many requests)",
  proxy_auth_required: "A proxy asks for authentication",
  server_error: "The server failed",
  bad_response: "The server sent a reply that could not be understood",
  network: "The server cannot be reached",
  timeout: "The server did not answer in time",
  browser_unavailable: "No browser could be opened",
  certificate_pin_mismatch: "The server certificate changed",
  certificate_untrusted: "The server certificate is not trusted",
  certificate_not_issued_by_ca: "The certificate authority did not issue the server's certificate",
  keyring_unavailable: "The OS keyring is not available",
  keyring_locked: "The OS keyring is locked",
  keyring_timeout: "The OS keyring did not answer in time",
  vault_key_missing: "The key of the saved tokens is missing; sign in again",
  vault_corrupt: "The saved tokens cannot be read",
  config_corrupt: "The saved settings cannot be read",
  io: "A file could not be read or written",
  lock_timeout: "Another VBM365 Auth program is busy with the same data",
  unsafe_file: "A data file of VBM365 Auth is not safe to use",
  // Codes of the app itself (UiError::new in src-tauri/src).
  no_sign_in: "No sign-in is in progress",
  unsafe_uri: "The sign-in page address is not safe to open",
  certificate_not_probed: "The certificate was not checked just now",
  clipboard: "The clipboard is not available",
  autostart: "Start at login could not be changed",
  app: "The app ran into a problem",
};

export function errorTitle(code) {
  return ERROR_TITLES[code] || "Something went wrong";
}

/**
 * The OS the window runs on, as Rust names it: "windows", "macos" or "linux". The app sets it
 * before any page script runs (`platform_script` in src-tauri/src/window.rs).
 */
export const PLATFORM = (typeof window !== "undefined" && window.__VBM365_PLATFORM__) || "linux";

/**
 * What to do next, in this window's words, for the core's remedy kinds (the CLI words the same
 * kinds as commands). Kinds whose message already says it (try later, likely causes) have none.
 * The keyring's words are Linux's here (a Secret Service); PLATFORM_REMEDY_HINTS has the others.
 */
export const REMEDY_HINTS = {
  pick_saved_tenant: "Choose a tenant from the list.",
  choose_active_tenant: "Choose a tenant from the list and make it active.",
  trust_server_certificate: "Sign in again: the window shows the server's certificate so you can check and trust it.",
  review_changed_certificate: "If the server's certificate was renewed on purpose, choose Forget trusted certificate on the tenant, then sign in again to trust the new one.",
  sign_in: "Sign in again.",
  use_browser_sign_in: "Your organization blocks sign-in with a device code; the browser sign-in may be allowed.",
  fix_restore_portal_app: "Ask your Microsoft 365 administrator to change the Restore Portal's app registration in Microsoft Entra ID: under Authentication, allow public client flows and add http://localhost as a Mobile and desktop applications redirect URI (see \"The Restore Portal's app registration\" in the README).",
  start_keyring: "Start the desktop keyring (a Secret Service such as GNOME Keyring), or start the app with VBM365_AUTH_STORAGE=file to keep secrets in a plain file.",
  unlock_keyring: "Unlock the desktop keyring, then try again.",
  reset_vault: "The stored tokens cannot be read any more: sign out of the tenants, then sign in again.",
  check_connection: "Check the server address, that the server is running, and the network or proxy between.",
  fix_permissions: "Make the file or folder named above private to your user account.",
  fix_config: "Correct or remove what is named above in the configuration file.",
};

/** The words that differ on Windows (Credential Manager) and macOS (the login keychain). */
export const PLATFORM_REMEDY_HINTS = {
  windows: {
    start_keyring: "Windows Credential Manager works only in your own Windows session: start the app from your desktop (not as a service, nor from a scheduled task set to \"Do not store password\"), or start it with VBM365_AUTH_STORAGE=file to keep secrets in a plain file.",
    unlock_keyring: "Sign in to Windows with your own account, then try again.",
  },
  macos: {
    start_keyring: "Check the login keychain in Keychain Access (it must be there and unlocked), or start the app with VBM365_AUTH_STORAGE=file to keep secrets in a plain file.",
    unlock_keyring: "Unlock the login keychain (in Keychain Access), then try again.",
  },
};

export function remedyHint(remedy, platform = PLATFORM) {
  if (!remedy) return "";
  const own = PLATFORM_REMEDY_HINTS[platform];
  return (own && own[remedy]) || REMEDY_HINTS[remedy] || "";
}

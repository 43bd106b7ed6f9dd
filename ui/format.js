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
  sign_in_declined: "The sign-in was declined",
  device_code_expired: "The code expired before it was used",
  bad_verification_code: "Microsoft did not recognise the code",
  conditional_access_blocked: "Blocked by a Conditional Access policy",
  invalid_grant: "Microsoft refused the sign-in",
  identity_error: "Microsoft refused the sign-in",
  exchange_refused: "The VBM365 server refused the organization's sign-in",
  certificate_pin_mismatch: "The server certificate changed",
  certificate_untrusted: "The server certificate is not trusted",
  network: "The server cannot be reached",
  timeout: "The server did not answer in time",
  server_error: "The server failed",
  throttled: "The server is busy (too many requests)",
  proxy_auth_required: "A proxy asks for authentication",
  server_rejected: "The VBM365 server refused the request",
  bad_response: "The server sent a reply that could not be understood",
  sign_in_required: "Sign-in required",
  keyring_unavailable: "The OS keyring is not available",
  keyring_locked: "The OS keyring is locked",
  clipboard: "The clipboard is not available",
  cancelled: "Sign-in cancelled",
};

export function errorTitle(code) {
  return ERROR_TITLES[code] || "Something went wrong";
}

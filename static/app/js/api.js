// The API client: the access token in memory only; the refresh token in localStorage so that a
// reload does not sign the student out (the strict Content-Security-Policy allows no other
// script to read it). Refreshes once on a 401; errors are problem documents made readable.
import { t } from "./strings.js";

export const base = "/api/v1";
const KEY = "friend.refresh";
/** Whose answers are kept on this device (cleared with them when someone else signs in). */
const OWNER = "friend.owner";
let access = null;
let user = null;
let refreshing = null;
let onSignedOut = () => {};

export const me = () => user;
let offlineSession = false;
export const signedIn = () => !!access || offlineSession;

/** Opens the app without a server: reads are answered by the service worker's last copies. */
export function openOffline() { offlineSession = !!localStorage.getItem(KEY); return offlineSession; }
export function whenSignedOut(f) { onSignedOut = f; }

/** Keeps an auth answer's tokens (null forgets them). */
export function keep(auth) {
  access = auth ? auth.access_token : null;
  user = auth ? auth.user : null;
  offlineSession = false;
  // Another student on this browser (or nobody) must not see the last one's kept answers.
  if (localStorage.getItem(OWNER) !== (auth ? auth.user.id : null)) {
    if ("caches" in window) caches.delete(COPIES).catch(() => {});
  }
  if (auth) { localStorage.setItem(KEY, auth.refresh_token); localStorage.setItem(OWNER, auth.user.id); }
  else localStorage.removeItem(KEY);
}

/** The outbox's storage key: each student's own, so one never sends another's messages. */
export const outboxKey = () => `friend.outbox.${user ? user.id : "none"}`;

export function setMe(u) { user = u; }

export class ApiError extends Error {
  constructor(body, status) {
    super(body && body.errors && body.errors.length ? body.errors.map((e) => `${e.field}: ${e.message}`).join("; ") : (body && body.detail) || t("error_generic", { status }));
    this.code = body && body.code;
    this.status = status;
    this.fields = (body && body.errors) || [];
  }
}

/** Exchanges the stored refresh token for a new pair: true, false when there is none or it is
 * refused, or "offline" when the server cannot be reached (the app then shows what was last loaded). */
export function refresh() {
  const token = localStorage.getItem(KEY);
  if (!token) return Promise.resolve(false);
  // One refresh at a time: parallel ones would present the same rotated token (reuse revokes it).
  refreshing = refreshing || (async () => {
    try {
      const r = await fetch(`${base}/auth/refresh`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: token }) });
      if (r.ok) { keep(await r.json()); return true; }
      if (r.status === 401 || r.status === 403) keep(null);
      return false;
    } catch (_) {
      return "offline";
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

const COPIES = "friend-data";

/** Keeps the answer of a read, so the app can show it offline (deleted at sign-out). */
function keepCopy(path, res) {
  if (!("caches" in window)) return;
  caches.open(COPIES).then((c) => c.put(base + path, res)).catch(() => {});
}

async function lastCopy(path) {
  if (!("caches" in window)) return undefined;
  const hit = await caches.open(COPIES).then((c) => c.match(base + path)).catch(() => null);
  return hit ? hit.json() : undefined;
}

/** A request with the token; JSON in and out (null for an empty answer). */
export async function call(method, path, body, opts) {
  opts = opts || {};
  const headers = {};
  if (access) headers.authorization = `Bearer ${access}`;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers["content-type"] = "application/json"; payload = JSON.stringify(body); }
  let res;
  try {
    res = await fetch(base + path, { method, headers, body: payload });
  } catch (e) {
    // No network: a read answers with the last copy kept on this device, if there is one.
    const kept = method === "GET" && !opts.raw ? await lastCopy(path) : undefined;
    if (kept !== undefined) return kept;
    throw e;
  }
  if (method === "GET" && res.ok && !opts.raw) keepCopy(path, res.clone());
  if (res.status === 401 && !opts.retried && localStorage.getItem(KEY)) {
    const renewed = await refresh();
    if (renewed === true) return call(method, path, body, { ...opts, retried: true });
    if (renewed === false) onSignedOut();
  }
  if (opts.raw) { if (!res.ok) throw new ApiError(await res.json().catch(() => null), res.status); return res; }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(data, res.status);
  return data;
}

export const get = (p) => call("GET", p);
export const post = (p, b) => call("POST", p, b === undefined ? {} : b);
export const patch = (p, b) => call("PATCH", p, b);
export const del = (p, b) => call("DELETE", p, b);

/** Signs out this device (or every device) and forgets the tokens. */
export async function signOut(everywhere) {
  const token = localStorage.getItem(KEY);
  try {
    if (everywhere) await post("/auth/logout-all");
    else if (token) await fetch(`${base}/auth/logout`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: token }) });
  } catch (_) { /* signed out here anyway */ }
  localStorage.removeItem(outboxKey());
  keep(null);
  localStorage.removeItem(OWNER);
  if ("caches" in window) await caches.delete(COPIES).catch(() => {});
}

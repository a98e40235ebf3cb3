// The API client of the web admin: tokens in this page's memory only (a reload asks to sign in
// again; nothing another script or a shared computer could read later), one refresh on a 401,
// problem documents turned into readable errors.

export const base = "/api/v1";
let tokens = null;
let onSignedOut = () => {};

/** The signed-in staff member ({ id, name, role, ... }) or null. */
export const me = () => (tokens ? tokens.user : null);
export const isAdmin = () => !!tokens && tokens.user.role === "admin";

/** Keeps the tokens of an auth response (or forgets them with null). */
export function keep(auth) {
  tokens = auth ? { access: auth.access_token, refresh: auth.refresh_token, user: auth.user } : null;
}

/** Called when the session ends on its own (refresh refused). */
export function whenSignedOut(f) { onSignedOut = f; }

/** An error with the problem's `code` and `status`. */
export class ApiError extends Error {
  constructor(body, status) {
    const text = body && body.errors && body.errors.length
      ? body.errors.map((e) => `${e.field}: ${e.message}`).join("; ")
      : (body && body.detail) || `request failed (${status})`;
    super(text);
    this.code = body && body.code;
    this.status = status;
  }
}

async function refreshOnce() {
  const r = await fetch(`${base}/auth/refresh`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: tokens.refresh }) });
  if (!r.ok) return false;
  keep(await r.json());
  return true;
}

/** A raw authorised fetch (for SVG and file downloads). */
export async function fetchAuthed(path, retried) {
  const res = await fetch(base + path, { cache: "no-store", headers: tokens ? { authorization: `Bearer ${tokens.access}` } : {} });
  if (res.status === 401 && tokens && !retried && await refreshOnce()) return fetchAuthed(path, true);
  if (!res.ok) throw new ApiError(await res.json().catch(() => null), res.status);
  return res;
}

/** A JSON call; resolves to the answer's body (null when empty). */
export async function call(method, path, body, retried) {
  const headers = { "content-type": "application/json" };
  if (tokens) headers.authorization = `Bearer ${tokens.access}`;
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401 && tokens && !retried) {
    if (await refreshOnce()) return call(method, path, body, true);
    keep(null);
    onSignedOut();
    throw new Error("your session ended; sign in again");
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(data, res.status);
  return data;
}

/** Every page of a list (`{ items, next_cursor }`). */
export async function all(path) {
  const out = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await call("GET", `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/** An object URL of an SVG (a chart or QR code) fetched with the token, for an <img>. */
export async function svgUrl(path) {
  return URL.createObjectURL(await (await fetchAuthed(path)).blob());
}

/** Ends this session on the server and forgets the tokens. */
export async function logout() {
  if (!tokens) return;
  const refresh = tokens.refresh;
  keep(null);
  await fetch(`${base}/auth/logout`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: refresh }) }).catch(() => {});
}

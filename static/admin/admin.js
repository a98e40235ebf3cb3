// Friend web admin: first-admin setup, staff sign-in, overview, invites, accounts (with one-time
// reset codes), announcements, backups, school settings and the audit log.
// Everything user-provided is shown with textContent (never innerHTML).
"use strict";

const api = "/api/v1";
const $ = (id) => document.getElementById(id);
// Tokens live in this page's memory only: nothing another script or a shared computer could read
// later; a reload asks to sign in again.
let tokens = null;
// Staff are signed out after this long without a click or a key (a teacher's phone left on a desk).
const IDLE_MINUTES = 15;
let idleTimer = null;

function show(id) {
  for (const s of ["setup", "signin", "dashboard"]) $(s).hidden = s !== id;
  $("signout").hidden = id !== "dashboard";
}

function say(text, isError) {
  $("message").textContent = text || "";
  $("message").className = isError ? "error" : "";
}

function saveTokens(t) {
  tokens = t ? { access: t.access_token, refresh: t.refresh_token, user: t.user } : null;
  stillHere();
}

function problemText(body, status) {
  if (body && body.errors && body.errors.length) return body.errors.map((e) => `${e.field}: ${e.message}`).join("; ");
  return (body && body.detail) || `request failed (${status})`;
}

async function call(method, path, body, retried) {
  const headers = { "content-type": "application/json" };
  if (tokens) headers.authorization = `Bearer ${tokens.access}`;
  const res = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401 && tokens && !retried) {
    const r = await fetch(api + "/auth/refresh", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: tokens.refresh }) });
    if (r.ok) { saveTokens(await r.json()); return call(method, path, body, true); }
    saveTokens(null); show("signin"); throw new Error("your session ended; sign in again");
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(problemText(data, res.status));
  return data;
}

function formData(form) {
  const out = {};
  for (const [k, v] of new FormData(form)) if (v !== "") out[k] = form.elements[k].type === "number" ? Number(v) : v;
  return out;
}

function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
function button(label, onClick, secondary) {
  const b = document.createElement("button"); b.type = "button"; b.textContent = label;
  if (secondary) b.className = "secondary";
  b.addEventListener("click", onClick); return b;
}

async function loadStats() {
  const s = await call("GET", "/admin/stats");
  $("stat-users").textContent = s.users;
  $("stat-admins").textContent = s.admins;
  $("stat-storage").textContent = `${(s.storage_bytes / 1048576).toFixed(1)} MB`;
  $("stat-ws").textContent = s.websockets_open;
  $("stat-push").textContent = s.push_unreachable_since
    ? `unreachable since ${new Date(s.push_unreachable_since).toLocaleString()} (${s.push_queued} waiting)`
    : `ok (${s.push_queued} waiting)`;
  const backup = $("stat-backup");
  backup.textContent = {
    ok: `ok, last ${new Date(s.last_backup_at).toLocaleString()}`,
    failing: `failing: ${s.backup_error}`,
    none: "none yet",
    off: "off",
  }[s.backup];
  backup.className = s.backup === "failing" ? "warn" : "";
  const disk = $("stat-disk");
  disk.textContent = s.disk_free_bytes == null ? "–" : `${(s.disk_free_bytes / 1073741824).toFixed(1)} GB${s.disk_low ? " (low)" : ""}`;
  disk.className = s.disk_low ? "warn" : "";
}

async function loadInvites() {
  const list = [];
  let cursor = null;
  do {
    const page = await call("GET", `/admin/invites?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    list.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  const body = $("invites").querySelector("tbody");
  body.replaceChildren();
  for (const inv of list) {
    const row = document.createElement("tr");
    cell(row, inv.code);
    cell(row, inv.max_uses ? `${inv.uses} / ${inv.max_uses}` : `${inv.uses}`);
    cell(row, inv.expires_at ? new Date(inv.expires_at).toLocaleString() : "never");
    cell(row, "").appendChild(button("Delete", async () => {
      try { await call("DELETE", `/admin/invites/${encodeURIComponent(inv.code)}`); say(`Invite ${inv.code} deleted.`); await loadInvites(); } catch (e) { say(e.message, true); }
    }, true));
    body.appendChild(row);
  }
}

/** Accounts matching `filter` ({ q, role, disabled }; empty values match all). */
async function loadUsers(filter) {
  filter = filter || {};
  const params = new URLSearchParams({ limit: "100" });
  for (const k of ["q", "role", "disabled"]) if (filter[k]) params.set(k, filter[k]);
  const page = await call("GET", `/admin/users?${params}`);
  const body = $("users").querySelector("tbody");
  body.replaceChildren();
  for (const u of page.items) {
    const row = document.createElement("tr");
    row.dataset.username = u.username;
    cell(row, u.username); cell(row, u.name); cell(row, u.email || ""); cell(row, u.role);
    cell(row, u.disabled ? "disabled" : "active");
    if (!tokens || u.id !== tokens.user.id) {
      const actions = cell(row, "");
      actions.appendChild(button(u.disabled ? "Enable" : "Disable", async () => {
        try { await call("PATCH", `/admin/users/${u.id}`, { disabled: !u.disabled }); say(`${u.username} ${u.disabled ? "enabled" : "disabled"}.`); await loadUsers(filter); } catch (e) { say(e.message, true); }
      }, true));
      // Moderators issue reset codes for students only.
      if (tokens.user.role === "admin" || u.role === "student") {
        const reset = button("Reset code", async () => {
          try {
            const r = await call("POST", `/admin/users/${u.id}/reset-password`, {});
            say(`Reset code for ${u.username}: ${r.reset_code} (works once, until ${new Date(r.expires_at).toLocaleString()}). They choose a new password with it.`);
            if (isAdmin()) await loadAudit();
          } catch (e) { say(e.message, true); }
        }, true);
        reset.dataset.action = "reset";
        actions.appendChild(reset);
        const everywhere = button("Sign out", async () => {
          try {
            await call("DELETE", `/admin/users/${u.id}/sessions`);
            say(`${u.username} is signed out on every device.`);
            if (isAdmin()) await loadAudit();
          } catch (e) { say(e.message, true); }
        }, true);
        everywhere.dataset.action = "sign-out";
        actions.appendChild(everywhere);
      }
    } else cell(row, "you");
    body.appendChild(row);
  }
}

const isAdmin = () => tokens && tokens.user.role === "admin";
const settingNames = ["school_name", "registration", "default_timezone", "dm_policy"];
let settings = null;

async function loadSettings() {
  settings = await call("GET", "/admin/settings");
  const f = $("settings");
  for (const k of settingNames) f.elements[k].value = settings[k];
  f.elements.school_quiet_hours.value = settings.school_quiet_hours || "";
  f.elements.max_message_bytes.value = settings.max_message_bytes;
  // Moderators see the settings; admins change them.
  for (const el of f.elements) el.disabled = !isAdmin();
  $("settings-changed").textContent = settings.changed.length ? `Changed here: ${settings.changed.join(", ").replaceAll("_", " ")}.` : "All come from config.toml.";
}

/** `old → new` of each value an audit entry changed, or the new values alone. */
function changeText(e) {
  const show = (v) => (v === null || v === undefined ? "none" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const keys = Object.keys(e.new || e.old || {});
  return keys.map((k) => (e.old && e.new ? `${k}: ${show(e.old[k])} → ${show(e.new[k])}` : `${k}: ${show((e.new || e.old)[k])}`)).join("; ");
}

let auditCursor = null;
async function loadAudit(older) {
  const from = older && auditCursor ? `&cursor=${encodeURIComponent(auditCursor)}` : "";
  const page = await call("GET", `/admin/audit-log?limit=50${from}`);
  const body = $("audit").querySelector("tbody");
  if (!older) body.replaceChildren();
  for (const e of page.items) {
    const row = document.createElement("tr");
    row.dataset.action = e.action;
    cell(row, new Date(e.at).toLocaleString());
    cell(row, e.actor);
    cell(row, e.action);
    cell(row, e.target_type ? `${e.target_type} ${e.target_name || e.target_id}` : "");
    cell(row, changeText(e));
    cell(row, e.ip || "server console");
    body.appendChild(row);
  }
  auditCursor = page.next_cursor;
  $("audit-more").hidden = !auditCursor;
}

async function loadAnnouncements() {
  const page = await call("GET", "/admin/announcements?limit=20");
  const body = $("announcements").querySelector("tbody");
  body.replaceChildren();
  for (const a of page.items) {
    const row = document.createElement("tr");
    row.dataset.id = a.id;
    cell(row, new Date(a.created_at).toLocaleString());
    cell(row, a.title);
    cell(row, `${a.acknowledged} of ${a.recipients}`);
    const pending = cell(row, "");
    if (a.acknowledged < a.recipients) {
      pending.appendChild(button("Who?", async () => {
        try {
          const d = await call("GET", `/admin/announcements/${a.id}`);
          const names = d.recipients_list.filter((r) => !r.acknowledged_at).map((r) => r.username);
          say(`Not yet acknowledged "${a.title}": ${names.join(", ")}.`);
        } catch (e) { say(e.message, true); }
      }, true));
    }
    body.appendChild(row);
  }
}

const megabytes = (n) => (n < 1048576 ? `${Math.max(1, Math.round(n / 1024))} KB` : `${(n / 1048576).toFixed(1)} MB`);

async function loadBackups() {
  const page = await call("GET", "/admin/backups");
  const body = $("backups").querySelector("tbody");
  body.replaceChildren();
  for (const b of page.items) {
    const row = document.createElement("tr");
    row.dataset.id = b.id;
    cell(row, new Date(b.created_at).toLocaleString());
    cell(row, megabytes(b.size_bytes));
    cell(row, b.complete ? String(b.records) : "damaged");
    cell(row, b.sha256 ? `${b.sha256.slice(0, 12)}…` : "–").title = b.sha256 || "";
    const actions = cell(row, "");
    const download = button("Download", async () => {
      try {
        const res = await fetch(`${api}/admin/backups/${encodeURIComponent(b.id)}`, { headers: { authorization: `Bearer ${tokens.access}` } });
        if (!res.ok) throw new Error(problemText(await res.json().catch(() => null), res.status));
        const link = document.createElement("a");
        link.href = URL.createObjectURL(await res.blob());
        link.download = b.id;
        link.click();
        URL.revokeObjectURL(link.href);
        await loadAudit();
      } catch (e) { say(e.message, true); }
    }, true);
    const verify = button("Verify", async () => {
      try {
        const v = await call("POST", `/admin/backups/${encodeURIComponent(b.id)}/verify`, {});
        say(`${b.id} is whole: ${v.records} records, checksum verified.`);
      } catch (e) { say(`${b.id}: ${e.message}`, true); }
      await loadAudit();
    }, true);
    verify.dataset.action = "verify";
    actions.append(download, verify);
    body.appendChild(row);
  }
}

async function openDashboard() {
  if (!tokens || !["admin", "moderator"].includes(tokens.user.role)) {
    saveTokens(null); show("signin"); say("This page is for staff accounts.", true); return;
  }
  $("who").textContent = `${tokens.user.name} (${tokens.user.role})`;
  show("dashboard");
  $("settings-section").hidden = false;
  $("audit-section").hidden = !isAdmin();
  $("backups-section").hidden = !isAdmin();
  const loads = [loadStats(), loadInvites(), loadUsers(), loadSettings(), loadAnnouncements()];
  if (isAdmin()) loads.push(loadAudit(), loadBackups());
  try { await Promise.all(loads); } catch (e) { say(e.message, true); }
}

$("settings").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const patch = {};
  for (const k of settingNames) if (f.elements[k].value.trim() !== settings[k]) patch[k] = f.elements[k].value.trim();
  const quiet = f.elements.school_quiet_hours.value.trim() || null;
  if (quiet !== (settings.school_quiet_hours || null)) patch.school_quiet_hours = quiet;
  const size = Number(f.elements.max_message_bytes.value);
  if (size !== settings.max_message_bytes) patch.max_message_bytes = size;
  if (!Object.keys(patch).length) { say("Nothing to save: no setting changed."); return; }
  try { await call("PATCH", "/admin/settings", patch); say("Settings saved; they apply now."); await Promise.all([loadSettings(), loadAudit()]); } catch (e) { say(e.message, true); }
});

$("new-announcement").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const to = f.elements.to.value;
  const audience = to === "all" ? { all: true } : { role: to.slice("role:".length) };
  try {
    const a = await call("POST", "/admin/announcements", { title: f.elements.title.value, body: f.elements.body.value, audience });
    f.reset();
    say(`Announcement sent to ${a.recipients} ${a.recipients === 1 ? "person" : "people"}.`);
    await loadAnnouncements();
    if (isAdmin()) await loadAudit();
  } catch (e) { say(e.message, true); }
});

$("backup-now").addEventListener("click", async () => {
  say("Backing up…");
  try {
    const b = await call("POST", "/admin/backups", {});
    say(`Backup ${b.id} written and verified (${megabytes(b.size_bytes)}).`);
    await Promise.all([loadBackups(), loadAudit()]);
  } catch (e) { say(e.message, true); }
});

$("audit-more").addEventListener("click", async () => {
  try { await loadAudit(true); } catch (e) { say(e.message, true); }
});

$("setup").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const code = new URLSearchParams(location.search).get("setup");
  try {
    saveTokens(await call("POST", "/setup", { ...formData(ev.target), code }));
    history.replaceState(null, "", location.pathname);
    say("Admin account created. Welcome!");
    await openDashboard();
  } catch (e) { say(e.message, true); }
});

$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try { saveTokens(await call("POST", "/auth/login", formData(ev.target))); say(""); await openDashboard(); } catch (e) { say(e.message, true); }
});

$("new-invite").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const inv = await call("POST", "/admin/invites", formData(ev.target));
    ev.target.reset(); say(`Invite ${inv.code} created.`); await loadInvites();
    if (isAdmin()) await loadAudit();
  } catch (e) { say(e.message, true); }
});

$("user-search").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try { await loadUsers(formData(ev.target)); } catch (e) { say(e.message, true); }
});

/** Restarts the idle timer while someone is signed in. */
function stillHere() {
  clearTimeout(idleTimer);
  if (tokens) idleTimer = setTimeout(() => signOut(`Signed out after ${IDLE_MINUTES} minutes without activity.`), IDLE_MINUTES * 60000);
}
for (const ev of ["click", "keydown", "touchstart"]) document.addEventListener(ev, stillHere, { passive: true });

async function signOut(message) {
  if (tokens) { try { await call("POST", "/auth/logout", { refresh_token: tokens.refresh }); } catch (_) { /* signed out anyway */ } }
  saveTokens(null); say(message); show("signin");
}

$("signout").addEventListener("click", () => signOut("Signed out."));

show(new URLSearchParams(location.search).has("setup") ? "setup" : "signin");

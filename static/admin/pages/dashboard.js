// Dashboard: the server's numbers and its own chart of the school's activity.
import { call, svgUrl } from "../api.js";
import { $, h, size, when } from "../ui.js";

let chartUrl = null;

function uptime(secs) {
  const d = Math.floor(secs / 86400), hrs = Math.floor((secs % 86400) / 3600), m = Math.floor((secs % 3600) / 60);
  return d ? `${d} d ${hrs} h` : hrs ? `${hrs} h ${m} min` : `${m} min`;
}

export async function load() {
  const s = await call("GET", "/admin/stats");
  const a = s.accounts;
  const stats = [
    ["Students", a.students, "stat-students"],
    ["Staff", `${a.moderators + a.admins} (${a.admins} admin${a.admins === 1 ? "" : "s"})`, "stat-staff"],
    ["Disabled", a.disabled, "stat-disabled"],
    ["Active today", s.active_today, "stat-today"],
    ["Active this week", s.active_this_week, "stat-week"],
    ["Open connections", s.websockets_open, "stat-ws"],
    ["Storage", size(s.storage_bytes), "stat-storage"],
    ["Free disk", s.disk_free_bytes == null ? "–" : `${(s.disk_free_bytes / 1073741824).toFixed(1)} GB${s.disk_low ? " (low)" : ""}`, "stat-disk", s.disk_low],
    ["Push", s.push_unreachable_since ? `unreachable since ${when(s.push_unreachable_since)} (${s.push_queued} waiting)` : `ok (${s.push_queued} waiting)`, "stat-push", !!s.push_unreachable_since],
    ["Backups", { ok: `ok, last ${when(s.last_backup_at)}`, failing: `failing: ${s.backup_error}`, none: "none yet", off: "off" }[s.backup], "stat-backup", s.backup === "failing"],
    ["Up for", uptime(s.uptime_secs), "stat-uptime"],
  ];
  $("stats").replaceChildren(...stats.map(([label, value, id, warn]) => h("div", { class: "stat" }, h("dt", null, label), h("dd", { id, class: warn ? "warn" : null }, value))));
  const today = s.activity[s.activity.length - 1];
  $("today-line").textContent = `Today so far: ${today.messages} messages, ${today.notes} notes, ${today.active_users} active.`;
  const dark = matchMedia("(prefers-color-scheme: dark)").matches;
  const width = Math.max(320, Math.min(1600, Math.round($("activity-chart").parentElement.clientWidth || 800)));
  const url = await svgUrl(`/admin/stats/activity.svg?days=28&width=${width}&theme=${dark ? "dark" : "light"}`);
  if (chartUrl) URL.revokeObjectURL(chartUrl);
  chartUrl = url;
  $("activity-chart").src = url;
}

// The audit log (admins): every staff action, newest first, append-only.
import { call } from "../api.js";
import { $, guard, h, when } from "../ui.js";

let cursor = null;

/** `old → new` of each value an entry changed, or the new values alone. */
function change(e) {
  const show = (v) => (v === null || v === undefined ? "none" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const keys = Object.keys(e.new || e.old || {});
  return keys.map((k) => (e.old && e.new ? `${k}: ${show(e.old[k])} → ${show(e.new[k])}` : `${k}: ${show((e.new || e.old)[k])}`)).join("; ");
}

export async function load(older) {
  const from = older && cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
  const action = $("audit-filter").value.trim();
  const page = await call("GET", `/admin/audit-log?limit=50${from}${action ? `&action=${encodeURIComponent(action)}` : ""}`);
  const body = $("audit").querySelector("tbody");
  if (!older) body.replaceChildren();
  for (const e of page.items) {
    body.append(h("tr", { data: { action: e.action } },
      h("td", null, when(e.at)), h("td", null, e.actor), h("td", null, e.action),
      h("td", null, e.target_type ? `${e.target_type} ${e.target_name || e.target_id}` : ""),
      h("td", null, change(e)), h("td", null, e.ip || "server console")));
  }
  cursor = page.next_cursor;
  $("audit-more").hidden = !cursor;
}

$("audit-more").addEventListener("click", () => guard(() => load(true)));
$("audit-search").addEventListener("submit", (ev) => { ev.preventDefault(); guard(() => load()); });

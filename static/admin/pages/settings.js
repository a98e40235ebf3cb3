// School settings: everyone on staff sees them, admins change them; each change applies at once.
import { call, isAdmin } from "../api.js";
import { $, guard, say } from "../ui.js";

const texts = ["school_name", "registration", "default_timezone", "dm_policy"];
let current = null;

export async function load() {
  current = await call("GET", "/admin/settings");
  const f = $("settings");
  for (const k of texts) f.elements[k].value = current[k];
  f.elements.school_quiet_hours.value = current.school_quiet_hours || "";
  f.elements.max_message_bytes.value = current.max_message_bytes;
  f.elements.staff_two_factor.checked = current.staff_two_factor;
  for (const el of f.elements) el.disabled = !isAdmin();
  $("settings-changed").textContent = current.changed.length
    ? `Changed here: ${current.changed.join(", ").replaceAll("_", " ")}.`
    : "All come from config.toml.";
}

$("settings").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const patch = {};
  for (const k of texts) if (f.elements[k].value.trim() !== current[k]) patch[k] = f.elements[k].value.trim();
  const quiet = f.elements.school_quiet_hours.value.trim() || null;
  if (quiet !== (current.school_quiet_hours || null)) patch.school_quiet_hours = quiet;
  const bytes = Number(f.elements.max_message_bytes.value);
  if (bytes !== current.max_message_bytes) patch.max_message_bytes = bytes;
  if (f.elements.staff_two_factor.checked !== current.staff_two_factor) patch.staff_two_factor = f.elements.staff_two_factor.checked;
  if (!Object.keys(patch).length) { say("Nothing to save: no setting changed."); return; }
  guard(async () => {
    await call("PATCH", "/admin/settings", patch);
    say("Settings saved; they apply now.");
    await load();
  });
});

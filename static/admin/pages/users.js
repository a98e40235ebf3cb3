// Accounts: search and filters, create one, import a class roster (with a printable sheet of
// setup codes), disable, reset codes, sign out everywhere, and reset a lost two-factor login.
import { call, isAdmin, me } from "../api.js";
import { $, button, fill, formData, guard, h, row, say, when } from "../ui.js";

let filter = {};

function actions(u) {
  if (u.id === me().id) return "you";
  const out = [];
  out.push(button(u.disabled ? "Enable" : "Disable", () => guard(async () => {
    await call("PATCH", `/admin/users/${u.id}`, { disabled: !u.disabled });
    say(`${u.username} ${u.disabled ? "enabled" : "disabled"}.`);
    await load();
  }), { action: "disable" }));
  // Moderators manage students only.
  if (isAdmin() || u.role === "student") {
    out.push(button("Reset code", () => guard(async () => {
      const r = await call("POST", `/admin/users/${u.id}/reset-password`, {});
      say(`Reset code for ${u.username}: ${r.reset_code} (works once, until ${when(r.expires_at)}). They choose a new password with it.`);
    }), { action: "reset" }));
    out.push(button("Sign out", () => guard(async () => {
      await call("DELETE", `/admin/users/${u.id}/sessions`);
      say(`${u.username} is signed out on every device.`);
    }), { action: "sign-out" }));
  }
  if (isAdmin() && u.two_factor) {
    out.push(button("Reset 2FA", () => guard(async () => {
      if (!confirm(`Turn off two-factor login for ${u.username}? They sign in with their password and set it up again.`)) return;
      await call("DELETE", `/admin/users/${u.id}/two-factor`);
      say(`Two-factor login of ${u.username} turned off; they are signed out.`);
      await load();
    }), { action: "reset-2fa" }));
  }
  return h("span", { class: "actions" }, out);
}

export async function load() {
  const params = new URLSearchParams({ limit: "100" });
  for (const k of ["q", "role", "disabled"]) if (filter[k]) params.set(k, filter[k]);
  const page = await call("GET", `/admin/users?${params}`);
  fill("users", page.items.map((u) => row([
    u.username, u.name, u.email || "", u.class || "", u.role + (u.two_factor ? " · 2FA" : ""), u.disabled ? "disabled" : "active", actions(u),
  ], { data: { username: u.username } })), "No account matches.");
}

$("user-search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  filter = formData(ev.target);
  guard(load);
});

$("new-user").addEventListener("submit", (ev) => {
  ev.preventDefault();
  guard(async () => {
    const u = await call("POST", "/admin/users", formData(ev.target));
    ev.target.reset();
    say(`Account ${u.username} created.`);
    await load();
  });
});

/** The printable sheet: one card a student with the username and setup code. */
function sheet(result) {
  const cards = result.accounts.map((a) => h("article", { class: "card" },
    h("h3", null, a.name),
    a.class ? h("p", null, `Class ${a.class}`) : null,
    h("p", null, "Username: ", h("strong", null, a.username)),
    h("p", null, "Setup code: ", h("strong", { class: "code" }, a.setup_code)),
    h("p", { class: "hint" }, `Open ${result.server_url} in the Friend app, choose "I have a code", and set your own password. The code works once, until ${when(result.expires_at)}.`),
  ));
  $("roster-sheet").replaceChildren(
    h("div", { class: "no-print" },
      h("p", null, `${result.accounts.length} accounts created. Print this sheet now and cut it into cards: the codes are not shown again (a new reset code can be made per student).`),
      button("Print the sheet", () => window.print(), { secondary: false })),
    h("div", { class: "cards" }, cards),
  );
  $("roster-sheet").hidden = false;
}

async function roster(dryRun) {
  const f = $("roster");
  const file = f.elements.file.files[0];
  const csv = file ? await file.text() : f.elements.csv.value;
  if (!csv.trim()) { say("Choose a CSV file or paste the list first.", true); return; }
  const r = await call("POST", "/admin/users/import", { csv, dry_run: dryRun });
  if (dryRun) { say(`The list is fine: ${r.accounts.length} accounts would be created.`); return; }
  f.reset();
  say(`${r.accounts.length} accounts created.`);
  sheet(r);
  await load();
}

$("roster").addEventListener("submit", (ev) => { ev.preventDefault(); guard(() => roster(false)); });
$("roster-check").addEventListener("click", () => guard(() => roster(true)));

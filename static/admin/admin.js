// Friend web admin: first-admin setup, staff sign-in (with two-factor login), and one page per
// task, chosen by the address's #fragment: dashboard, users, invites, moderation, announcements,
// settings, audit log, backups and the staff member's own account.
import { call, isAdmin, keep, logout, me, whenSignedOut } from "./api.js";
import { $, formData, guard, say } from "./ui.js";
import * as account from "./pages/account.js";
import * as announcements from "./pages/announcements.js";
import * as audit from "./pages/audit.js";
import * as backups from "./pages/backups.js";
import * as dashboard from "./pages/dashboard.js";
import * as invites from "./pages/invites.js";
import * as moderation from "./pages/moderation.js";
import * as settings from "./pages/settings.js";
import * as users from "./pages/users.js";

/** Pages: module, and whether only admins see it. */
const pages = {
  dashboard: [dashboard, false],
  users: [users, false],
  invites: [invites, false],
  moderation: [moderation, false],
  announcements: [announcements, false],
  settings: [settings, false],
  audit: [audit, true],
  backups: [backups, true],
  account: [account, false],
};

// Staff are signed out after this long without a click or a key (a teacher's phone left on a desk).
const IDLE_MINUTES = 15;
let idleTimer = null;

function showScreen(id) {
  for (const s of ["setup", "signin", "app"]) $(s).hidden = s !== id;
  $("signout").hidden = id !== "app";
  $("nav").hidden = id !== "app";
}

/** Shows the page named in the address and loads its data. */
async function route() {
  if (!me()) return;
  let name = location.hash.slice(1) || "dashboard";
  if (!pages[name] || (pages[name][1] && !isAdmin())) name = "dashboard";
  for (const section of document.querySelectorAll("section.page")) section.hidden = section.id !== `page-${name}`;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    await pages[name][0].load();
  } catch (e) {
    if (e.code === "two_factor_setup_required" && name !== "account") {
      say(e.message, true);
      location.hash = "#account";
      return;
    }
    say(e.message, true);
  }
}

function signedIn(auth) {
  keep(auth);
  if (!["admin", "moderator"].includes(me().role)) {
    keep(null);
    say("This page is for staff accounts.", true);
    return;
  }
  $("who").textContent = `${me().name} (${me().role})`;
  for (const link of document.querySelectorAll("#nav a[data-admin]")) link.hidden = !isAdmin();
  $("signin").reset();
  $("signin-code").hidden = true;
  $("signin").elements.two_factor_code.required = false;
  showScreen("app");
  stillHere();
  route();
}

$("signin").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const auth = await call("POST", "/auth/login", formData(ev.target));
    say("");
    signedIn(auth);
  } catch (e) {
    if (e.code === "two_factor_required") {
      const code = ev.target.elements.two_factor_code;
      const asked = !$("signin-code").hidden;
      $("signin-code").hidden = false;
      code.required = true;
      code.value = "";
      code.focus();
      say(asked ? e.message : "Type the 6-digit code of your authenticator app (or a recovery code).", asked);
    } else say(e.message, true);
  }
});

$("setup").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const code = new URLSearchParams(location.search).get("setup");
  guard(async () => {
    const auth = await call("POST", "/setup", { ...formData(ev.target), code });
    history.replaceState(null, "", location.pathname);
    say("Admin account created. Welcome! Turn on two-factor login under Account.");
    signedIn(auth);
  });
});

/** Restarts the idle timer while someone is signed in. */
function stillHere() {
  clearTimeout(idleTimer);
  if (me()) idleTimer = setTimeout(() => signOut(`Signed out after ${IDLE_MINUTES} minutes without activity.`), IDLE_MINUTES * 60000);
}
for (const ev of ["click", "keydown", "touchstart"]) document.addEventListener(ev, stillHere, { passive: true });

async function signOut(message) {
  await logout();
  $("who").textContent = "";
  say(message);
  showScreen("signin");
}

whenSignedOut(() => showScreen("signin"));
$("signout").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", () => { say(""); route(); });
showScreen(new URLSearchParams(location.search).has("setup") ? "setup" : "signin");

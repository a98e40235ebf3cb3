// The student app's shell: restores the session from the refresh token, routes by the address's
// #fragment, keeps the live connection and the unread badge, and registers the service worker.
import { get, keep, me, refresh, signedIn, whenSignedOut } from "./api.js";
import { t } from "./strings.js";
import { $, guard, h, toast } from "./ui.js";
import * as ws from "./ws.js";
import * as auth from "./views/auth.js";
import * as chats from "./views/chats.js";
import * as friends from "./views/friends.js";
import * as inbox from "./views/inbox.js";
import * as notes from "./views/notes.js";
import * as reports from "./views/reports.js";
import * as settings from "./views/settings.js";
import * as today from "./views/today.js";

const NAV = [["today", "nav_today", "☀"], ["friends", "nav_friends", "👥"], ["chats", "nav_chats", "💬"], ["notes", "nav_notes", "📝"], ["reports", "nav_reports", "📈"], ["inbox", "nav_inbox", "🔔"], ["settings", "nav_settings", "⚙"]];

function drawNav() {
  // A tap on the screen already shown loads it again (what a student expects of a tab bar).
  $("#nav").replaceChildren(...NAV.map(([name, key, icon]) => h("a", { href: `#/${name}`, data: { route: name }, onclick: () => { if (location.hash === `#/${name}`) route(); } },
    h("span", { "aria-hidden": "true" }, icon), h("span", null, t(key)), name === "inbox" ? h("span", { class: "badge", id: "unread", hidden: true }) : null)));
}

async function badge() {
  if (!signedIn()) return;
  const { count } = await get("/notifications/unread-count").catch(() => ({ count: 0 }));
  const b = $("#unread");
  if (b) { b.textContent = String(count); b.hidden = !count; b.setAttribute("aria-label", `${count} unread`); }
}

function signedOut() {
  ws.stop();
  keep(null);
  document.body.classList.remove("signed-in");
  location.hash = "#/signin";
  route();
}

function entered() {
  document.body.classList.add("signed-in");
  settings.applyTheme((me().settings || {}).theme);
  ws.start();
  badge();
  if (!location.hash || ["#/signin", "#/register", "#/reset", "#/"].includes(location.hash)) location.hash = "#/today";
  else route();
}

async function route() {
  const [, name, arg] = (location.hash || "#/").split("/");
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.route === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (!signedIn()) {
    if (name === "register") return auth.register(entered);
    if (name === "reset") return auth.reset();
    return auth.signIn(entered);
  }
  const views = {
    today: () => today.show(),
    friends: () => friends.show(),
    chats: () => (arg ? chats.open(arg) : chats.list()),
    notes: () => notes.show(arg),
    reports: () => reports.show(arg),
    inbox: () => inbox.show(badge),
    settings: () => settings.show(signedOut),
  };
  await guard(views[name] || views.today);
}

function connectionBanner(open) {
  $("#offline").hidden = open || navigator.onLine === true && open !== false ? open !== false : false;
}

async function boot() {
  drawNav();
  const invite = new URLSearchParams(location.search).get("invite");
  if (invite) { sessionStorage.setItem("friend.invite", invite); if (!location.hash) location.hash = "#/register"; }
  whenSignedOut(signedOut);
  window.addEventListener("hashchange", route);
  ws.on("connection", (f) => connectionBanner(f.open));
  ws.on("notification.new", () => { badge(); toast(t("nav_inbox") + " +1"); });
  window.addEventListener("offline", () => { $("#offline").hidden = false; });
  window.addEventListener("online", () => { $("#offline").hidden = true; });
  $("#offline").hidden = navigator.onLine;
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  if (await refresh()) entered(); else route();
}

boot();

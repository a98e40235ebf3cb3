// The student app's shell: restores the session from the refresh token, routes by the address's
// #fragment, keeps the live connection and the unread badge, and registers the service worker.
import { get, keep, me, openOffline, refresh, setMe, signedIn, whenSignedOut } from "./api.js";
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

/** Routes of the tab bar with their icons (24 × 24 SVG paths, drawn with the text colour). */
const NAV = [
  ["today", "nav_today", "M12 7a5 5 0 1 0 0 10 5 5 0 0 0 0-10zM12 1v3M12 20v3M1 12h3M20 12h3M4.2 4.2l2.1 2.1M17.7 17.7l2.1 2.1M4.2 19.8l2.1-2.1M17.7 6.3l2.1-2.1"],
  ["friends", "nav_friends", "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM1 21a8 8 0 0 1 16 0M17 3a4 4 0 0 1 0 8M23 21a8 8 0 0 0-5-7.4"],
  ["chats", "nav_chats", "M21 12a8 8 0 0 1-11.6 7.1L3 21l1.9-6.4A8 8 0 1 1 21 12z"],
  ["notes", "nav_notes", "M6 2h9l5 5v15H6zM14 2v6h6M9 13h8M9 17h8"],
  ["reports", "nav_reports", "M3 3v18h18M7 16v-5M12 16V7M17 16v-8"],
  ["inbox", "nav_inbox", "M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9M13.7 21a2 2 0 0 1-3.4 0"],
  ["settings", "nav_settings", "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-2.9 1.2V21a2 2 0 0 1-4 0v-.1A1.7 1.7 0 0 0 6.8 19.7l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1A1.7 1.7 0 0 0 3 14H3a2 2 0 0 1 0-4h.1A1.7 1.7 0 0 0 4.3 6.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1A1.7 1.7 0 0 0 10 3V3a2 2 0 0 1 4 0v.1a1.7 1.7 0 0 0 2.9 1.2l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1A1.7 1.7 0 0 0 21 10h.1a2 2 0 0 1 0 4H21a1.7 1.7 0 0 0-1.6 1z"],
];

function icon(d) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

function drawNav() {
  // A tap on the screen already shown loads it again (what a student expects of a tab bar).
  $("#nav").replaceChildren(...NAV.map(([name, key, glyph]) => h("a", { href: `#/${name}`, data: { route: name }, onclick: () => { if (location.hash === `#/${name}`) route(); } },
    icon(glyph), h("span", null, t(key)), name === "inbox" ? h("span", { class: "badge", id: "unread", hidden: true }) : null)));
}

async function badge() {
  if (!signedIn()) return;
  const { count } = await get("/notifications/unread-count").catch(() => ({ count: 0 }));
  const b = $("#unread");
  if (b) { b.textContent = String(count); b.hidden = !count; b.setAttribute("aria-label", t("unread_count", { count })); }
}

function signedOut() {
  ws.stop();
  keep(null);
  document.body.classList.remove("signed-in");
  $("#offline").hidden = true;
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

/** The offline banner: shown while the socket is down for more than a moment (or the browser
 * says it is offline), hidden as soon as it is back. */
let bannerTimer = null;
function connectionBanner(open) {
  clearTimeout(bannerTimer);
  if (open) { $("#offline").hidden = true; return; }
  bannerTimer = setTimeout(() => { if (!ws.isOpen() && signedIn()) $("#offline").hidden = false; }, 2000);
}

async function boot() {
  drawNav();
  $(".skip").textContent = t("skip");
  $("#offline").textContent = t("offline");
  $("#nav").setAttribute("aria-label", t("app_name"));
  const invite = new URLSearchParams(location.search).get("invite");
  if (invite) { sessionStorage.setItem("friend.invite", invite); if (!location.hash) location.hash = "#/register"; }
  whenSignedOut(signedOut);
  window.addEventListener("hashchange", route);
  ws.on("connection", (f) => connectionBanner(f.open));
  ws.on("notification.new", () => { badge(); toast(t("new_notification")); });
  window.addEventListener("offline", () => { if (signedIn()) $("#offline").hidden = false; });
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  const session = await refresh();
  if (session === true) entered();
  else if (session === "offline" && openOffline()) {
    // No server: the last copies the service worker kept; the socket retries in the background.
    const cached = await get("/me").catch(() => null);
    if (cached) { setMe(cached); $("#offline").hidden = false; entered(); } else route();
  } else route();
}

boot();

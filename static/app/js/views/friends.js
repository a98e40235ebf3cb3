// Friends: who is online and studying what, requests in and out, discover as you type,
// suggestions, and blocking.
import { del, get, post } from "../api.js";
import { t } from "../strings.js";
import { guard, h, render, toast } from "../ui.js";
import * as ws from "../ws.js";

// Presence and requests change the list while it is shown (at most one redraw a second).
let live = null;
let redraw = null;
function follow() {
  if (live) return;
  const again = () => {
    if (!location.hash.startsWith("#/friends")) return;
    clearTimeout(redraw);
    redraw = setTimeout(() => { if (location.hash.startsWith("#/friends")) guard(show); }, 1000);
  };
  live = [ws.on("presence", again), ws.on("friend_request.new", again), ws.on("friend_request.accepted", again)];
}

function presence(u) {
  if (u.studying_now) return t("studying", { subject: u.studying_now.subject });
  return u.is_online ? t("online") : t("offline_short");
}

async function openChat(userId) {
  const chat = await post("/chats", { type: "private", user_id: userId });
  location.hash = `#/chats/${chat.id}`;
}

function person(u, ...actions) {
  return h("li", { class: "person", data: { username: u.username } },
    h("span", { class: `dot ${u.is_online ? "on" : ""}`, "aria-hidden": "true" }),
    h("span", { class: "who" }, h("strong", null, u.name), ` @${u.username}`, h("small", null, presence(u))),
    h("span", { class: "actions" }, actions));
}

export async function show() {
  follow();
  const [friends, incoming, outgoing, suggestions] = await Promise.all([
    get("/friends?limit=100"), get("/friend-requests?direction=incoming"), get("/friend-requests?direction=outgoing"), get("/users/suggestions").catch(() => ({ items: [] })),
  ]);
  const again = () => guard(show);
  const results = h("ul", { class: "people", id: "people-results", "aria-live": "polite" });
  const search = h("input", { type: "search", id: "people-search", placeholder: t("search_people"), "aria-label": t("find_people"), autocomplete: "off" });
  let pending = null;
  search.addEventListener("input", () => {
    clearTimeout(pending);
    pending = setTimeout(() => guard(async () => {
      const q = search.value.trim();
      if (!q) { results.replaceChildren(); return; }
      const found = await get(`/users?q=${encodeURIComponent(q)}&limit=10`);
      results.replaceChildren(...found.items.map((u) => person(u,
        u.friendship === "friends" ? h("button", { type: "button", onclick: () => guard(() => openChat(u.id)) }, t("message"))
          : u.friendship === "none" ? h("button", { type: "button", data: { action: "add" }, onclick: () => guard(async () => { await post("/friend-requests", { to_user_id: u.id }); toast(t("requested")); again(); }) }, t("add_friend"))
            : h("small", null, t(u.friendship === "request_sent" ? "requested" : "incoming")))));
    }), 200);
  });
  const list = (items, empty, row) => (items.length ? h("ul", { class: "people" }, items.map(row)) : h("p", { class: "hint" }, empty));
  render(t("friends_title"),
    h("section", { class: "card" }, h("h2", null, t("find_people")), search, results),
    incoming.items.length ? h("section", { class: "card", id: "incoming" }, h("h2", null, t("incoming")), list(incoming.items, "", (r) => person(r.from_user,
      h("button", { type: "button", data: { action: "accept" }, onclick: () => guard(async () => { await post(`/friend-requests/${r.id}/accept`); again(); }) }, t("accept")),
      h("button", { type: "button", class: "secondary", onclick: () => guard(async () => { await post(`/friend-requests/${r.id}/reject`); again(); }) }, t("reject"))))) : null,
    outgoing.items.length ? h("section", { class: "card" }, h("h2", null, t("outgoing")), list(outgoing.items, "", (r) => person(r.to_user,
      h("button", { type: "button", class: "secondary", onclick: () => guard(async () => { await del(`/friend-requests/${r.id}`); again(); }) }, t("withdraw"))))) : null,
    h("section", { class: "card", id: "friends" }, h("h2", null, t("friends_title")), list(friends.items, t("no_friends"), (u) => person(u,
      h("button", { type: "button", data: { action: "message" }, onclick: () => guard(() => openChat(u.id)) }, t("message")),
      h("button", { type: "button", class: "secondary", onclick: () => guard(async () => { if (confirm(t("block_confirm", { name: u.name }))) { await post("/blocks", { user_id: u.id }); again(); } }) }, t("block"))))),
    suggestions.items.length ? h("section", { class: "card" }, h("h2", null, t("suggestions")), list(suggestions.items, "", (u) => person(u,
      h("button", { type: "button", onclick: () => guard(async () => { await post("/friend-requests", { to_user_id: u.id }); again(); }) }, t("add_friend"))))) : null);
}

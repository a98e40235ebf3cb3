// The chat list (unread counts, last message) and one conversation: live messages, typing,
// delivered and read ticks, replies, editing and deleting one's own, files, and messages written
// offline that wait in the outbox until the connection returns.
import { call, del, get, me, patch, post } from "../api.js";
import { t } from "../strings.js";
import { guard, h, render, time } from "../ui.js";
import * as ws from "../ws.js";

let stopLive = [];

/** An image is shown (its thumbnail when there is one); another file is a link. */
function attachment(a) {
  if (a.mime && a.mime.startsWith("image/")) return h("a", { href: a.url, target: "_blank", rel: "noopener" }, h("img", { src: a.thumbnail_url || a.url, alt: "", class: "attachment", loading: "lazy", width: a.width || null, height: a.height || null }));
  return h("a", { href: a.url, target: "_blank", rel: "noopener", download: "" }, `📎 ${a.mime || "file"} (${Math.max(1, Math.round((a.size || 0) / 1024))} KB)`);
}

function stop() {
  for (const f of stopLive) f();
  stopLive = [];
}

function chatName(c) {
  if (c.type === "group") return c.name;
  const other = c.members.find((m) => m.user.id !== me().id);
  return other ? other.user.name : c.name;
}

export async function list() {
  stop();
  const chats = await get("/chats?limit=100");
  const items = chats.items.map((c) => h("li", null, h("a", { href: `#/chats/${c.id}`, class: "chat-row", data: { id: c.id } },
    h("strong", null, chatName(c)),
    h("span", { class: "last" }, c.last_message ? (c.last_message.deleted ? t("deleted_message") : c.last_message.content) : ""),
    c.unread_count ? h("span", { class: "badge", "aria-label": t("unread_count", { count: c.unread_count }) }, String(c.unread_count)) : null)));
  const friends = await get("/friends?limit=100").catch(() => ({ items: [] }));
  const group = h("form", { id: "new-group" },
    h("label", null, t("group_name"), h("input", { name: "name", required: true, maxlength: 100 })),
    h("fieldset", null, h("legend", null, t("group_members")), friends.items.map((f) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "member", value: f.id }), f.name))),
    h("button", { type: "submit" }, t("create_group")));
  group.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const member_ids = [...group.querySelectorAll("input[name=member]:checked")].map((c) => c.value);
    guard(async () => {
      const chat = await post("/chats", { type: "group", name: group.elements.name.value.trim(), member_ids });
      location.hash = `#/chats/${chat.id}`;
    });
  });
  render(t("chats_title"), items.length ? h("ul", { class: "chats", id: "chat-list" }, items) : h("p", { class: "hint" }, t("no_chats")),
    friends.items.length ? h("details", { class: "card" }, h("summary", null, t("new_group")), group) : null);
  stopLive.push(ws.on("message.new", () => guard(list)));
}

/** The tick of my message `m`: read, delivered or sent, from the other members' receipts. */
function tick(chat, m) {
  const others = chat.members.filter((x) => x.user.id !== me().id);
  if (others.length && others.every((x) => x.last_read_message_id && x.last_read_message_id >= m.id)) return ["read", "✓✓"];
  if (others.length && others.every((x) => x.last_delivered_message_id && x.last_delivered_message_id >= m.id)) return ["delivered", "✓✓"];
  return ["sent", "✓"];
}

export async function open(id) {
  stop();
  const chat = await get(`/chats/${id}`);
  const history = await get(`/chats/${id}/messages?limit=50`);
  const messages = new Map();
  for (const m of (Array.isArray(history) ? history : history.items).slice().reverse()) messages.set(m.id, m);
  let replyTo = null;
  let editing = null;
  const names = new Map(chat.members.map((m) => [m.user.id, m.user.name]));
  const list = h("ol", { class: "messages", id: "messages", "aria-live": "polite" });
  const typingLine = h("p", { class: "typing hint", id: "typing", "aria-live": "polite" });
  const input = h("textarea", { name: "content", rows: 1, placeholder: t("type_message"), "aria-label": t("type_message"), maxlength: 32768 });
  const replyLine = h("p", { class: "replying hint", hidden: true });

  function bubble(m) {
    const mine = m.from_user_id === me().id;
    const [state, mark] = mine ? tick(chat, m) : [null, null];
    const quoted = m.reply_to_id && messages.get(m.reply_to_id);
    return h("li", { class: `msg ${mine ? "mine" : ""}`, data: { id: m.id, state: state || "" } },
      chat.type === "group" && !mine ? h("span", { class: "from" }, names.get(m.from_user_id) || "") : null,
      quoted ? h("blockquote", null, quoted.deleted ? t("deleted_message") : quoted.content) : null,
      m.deleted ? h("em", null, t("deleted_message")) : h("span", { class: "text" }, m.content),
      m.attachment && !m.deleted ? attachment(m.attachment) : null,
      m.kind === "note" && m.note_id && !m.deleted ? h("a", { href: `#/notes/${m.note_id}`, class: "shared-note" }, t("open_note")) : null,
      h("span", { class: "meta" }, time(m.created_at), m.edited_at && !m.deleted ? ` · ${t("edited")}` : "", mine ? h("span", { class: "tick", title: t(state), "aria-label": t(state) }, ` ${mark}`) : null),
      m.deleted ? null : h("span", { class: "msg-actions" },
        h("button", { type: "button", class: "link", onclick: () => { replyTo = m; replyLine.hidden = false; replyLine.textContent = t("replying_to", { text: m.content.slice(0, 60) }); input.focus(); } }, t("reply")),
        mine ? h("button", { type: "button", class: "link", onclick: () => { editing = m; input.value = m.content; input.focus(); } }, t("edit")) : null,
        mine ? h("button", { type: "button", class: "link", onclick: () => guard(() => del(`/chats/${id}/messages/${m.id}`)) }, t("delete")) : null));
  }

  function draw() {
    const pending = ws.outbox().filter((o) => o.chat_id === id).map((o) => h("li", { class: "msg mine pending", data: { client: o.client_id, state: "pending" } },
      h("span", { class: "text" }, o.content), h("span", { class: "meta" }, t("pending"))));
    list.replaceChildren(...[...messages.values()].map(bubble), ...pending);
    list.lastElementChild?.scrollIntoView({ block: "end" });
  }

  function markRead() {
    const last = [...messages.values()].filter((m) => m.from_user_id !== me().id).pop();
    if (last && document.visibilityState === "visible") { ws.read(id, last.id); post(`/chats/${id}/read`, { up_to_message_id: last.id }).catch(() => {}); }
  }

  const form = h("form", { class: "composer", id: "composer" }, replyLine,
    h("label", { class: "attach", title: t("attach") }, "📎", h("input", { type: "file", name: "file", "aria-label": t("attach"), onchange: (ev) => guard(async () => {
      const file = ev.target.files[0];
      if (!file) return;
      const fd = new FormData();
      fd.append("file", file);
      const media = await call("POST", "/media", fd);
      ws.sendMessage(id, file.name, { kind: media.mime.startsWith("image/") ? "image" : "file", attachment_id: media.id });
      ev.target.value = "";
    }) })),
    input, h("button", { type: "submit" }, t("send")));
  let typingSent = 0;
  input.addEventListener("input", () => {
    if (Date.now() - typingSent > 3000) { ws.typing(id, true); typingSent = Date.now(); }
  });
  input.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); } });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const content = input.value.trim();
    if (!content) return;
    input.value = "";
    ws.typing(id, false);
    typingSent = 0;
    if (editing) { const m = editing; editing = null; guard(() => patch(`/chats/${id}/messages/${m.id}`, { content })); return; }
    ws.sendMessage(id, content, replyTo ? { reply_to_id: replyTo.id } : undefined);
    replyTo = null;
    replyLine.hidden = true;
    draw();
  });

  let typingTimer = null;
  stopLive.push(
    ws.on("message.new", (f) => {
      if (f.message.chat_id !== id) return;
      messages.set(f.message.id, f.message);
      if (f.message.from_user_id !== me().id) { ws.delivered(id, f.message.id); markRead(); }
      draw();
    }),
    ws.on("message.ack", (f) => { if (f.message.chat_id === id) { messages.set(f.message.id, f.message); draw(); } }),
    ws.on("message.updated", (f) => { if (f.message.chat_id === id) { messages.set(f.message.id, f.message); draw(); } }),
    ws.on("message.deleted", (f) => { const m = messages.get(f.message_id); if (f.chat_id === id && m) { m.deleted = true; m.content = ""; draw(); } }),
    ws.on("receipt", (f) => {
      if (f.chat_id !== id) return;
      const member = chat.members.find((x) => x.user.id === f.user_id);
      if (!member) return;
      if (f.kind === "read") { member.last_read_message_id = f.message_id; if (!member.last_delivered_message_id || member.last_delivered_message_id < f.message_id) member.last_delivered_message_id = f.message_id; } else member.last_delivered_message_id = f.message_id;
      draw();
    }),
    ws.on("typing", (f) => {
      if (f.chat_id !== id || f.user_id === me().id) return;
      typingLine.textContent = f.active ? t("typing", { name: names.get(f.user_id) || "" }) : "";
      clearTimeout(typingTimer);
      if (f.active) typingTimer = setTimeout(() => { typingLine.textContent = ""; }, 6000);
    }),
    ws.on("outbox.changed", draw),
  );
  render(chatName(chat), list, typingLine, form);
  draw();
  markRead();
}

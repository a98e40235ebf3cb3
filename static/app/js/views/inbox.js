// The inbox: notifications (newest first), pinned announcements to acknowledge, mark all read.
import { get, post } from "../api.js";
import { t } from "../strings.js";
import { day, guard, h, render, time } from "../ui.js";

export async function show(refreshBadge) {
  const [notes, announcements] = await Promise.all([get("/notifications?limit=50"), get("/announcements").catch(() => ({ items: [] }))]);
  const pinned = announcements.items.filter((a) => a.pinned).map((a) => h("article", { class: "card announcement", data: { id: a.id } },
    h("h2", null, a.title), h("p", null, a.body),
    h("button", { type: "button", onclick: () => guard(async () => { await post(`/announcements/${a.id}/ack`); await show(refreshBadge); }) }, t("announcement_ack"))));
  const items = notes.items.map((n) => h("li", { class: n.is_read ? "" : "unread", data: { type: n.type } },
    h("strong", null, n.title), h("span", null, n.content), h("small", null, `${day(n.created_at)} ${time(n.created_at)}`)));
  render(t("inbox_title"), ...pinned,
    h("button", { type: "button", class: "secondary", id: "mark-read", onclick: () => guard(async () => { await post("/notifications/read", { all: true }); await show(refreshBadge); }) }, t("mark_all_read")),
    items.length ? h("ul", { class: "inbox", id: "notifications" }, items) : h("p", { class: "hint" }, t("no_notifications")));
  refreshBadge();
}

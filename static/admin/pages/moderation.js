// The moderation queue: reports with what was reported in context (the only way staff see chat
// content; each page opened is in the audit log), and the decision with an optional note.
import { call } from "../api.js";
import { $, button, guard, h, say, when } from "../ui.js";

let status = "open";

function context(r) {
  const c = r.context;
  if (c.messages) {
    return h("div", { class: "context" },
      h("p", { class: "hint" }, c.chat_name ? `In the group "${c.chat_name}"` : "In a private chat"),
      h("ol", { class: "messages" }, c.messages.map((m) => h("li", { class: m.reported ? "reported" : null },
        h("span", { class: "from" }, m.from), " ", m.deleted ? h("em", null, "deleted") : m.content,
        h("time", null, ` ${when(m.created_at)}`)))));
  }
  if (c.note_title !== undefined && c.note_title !== null) {
    return h("div", { class: "context" }, h("h4", null, c.note_title || "(untitled note)"), h("p", { class: "note-text" }, c.note_content || ""));
  }
  if (c.user_bio !== undefined && c.user_bio !== null) return h("div", { class: "context" }, h("p", null, `Bio: ${c.user_bio || "(empty)"}`));
  return h("p", { class: "hint" }, c.gone ? "The reported content is gone." : "");
}

function decide(r) {
  const note = h("input", { name: "note", maxlength: 500, placeholder: "Note for the record (optional)", "aria-label": `Note on the report of ${r.subject.username}` });
  const act = (action, label) => button(label, () => guard(async () => {
    await call("POST", `/admin/reports/${r.id}/resolve`, { action, note: note.value || undefined });
    say(`Report resolved: ${label.toLowerCase()}.`);
    await load();
  }), { action, secondary: action === "dismiss" });
  return h("div", { class: "decide" }, note,
    act("dismiss", "Dismiss"),
    r.entity_type === "user" ? null : act("delete_content", "Delete content"),
    act("disable_user", `Disable ${r.subject.username || "account"}`));
}

export async function load() {
  const page = await call("GET", `/admin/reports?status=${status}&limit=50`);
  const items = page.items.map((r) => h("article", { class: "report", data: { id: r.id, type: r.entity_type } },
    h("header", null,
      h("strong", null, `${r.entity_type} by ${r.subject.username || "a deleted account"}`),
      h("span", null, ` reported by ${r.reporter.username} · ${when(r.created_at)}`)),
    h("p", null, h("strong", null, "Reason: "), r.reason, r.details ? ` — ${r.details}` : ""),
    context(r),
    r.status === "open" ? decide(r) : h("p", { class: "outcome" }, `${r.action} by ${r.resolved_by ? r.resolved_by.username : "staff"} · ${when(r.resolved_at)}${r.note ? ` · ${r.note}` : ""}`),
  ));
  $("reports").replaceChildren(...items);
  if (!items.length) $("reports").append(h("p", { class: "hint" }, status === "open" ? "Nothing to review." : "No reports."));
}

$("report-status").addEventListener("change", (ev) => { status = ev.target.value; guard(load); });

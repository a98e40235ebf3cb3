// Notes: write Markdown with a preview, tags and visibility; the feed, my notes, search with the
// server's highlighted matches, likes, and sharing a note to a chat.
import { call, del, get, post } from "../api.js";
import { t } from "../strings.js";
import { field, formData, guard, h, render, toast } from "../ui.js";

/** Inline Markdown as elements built from text (never HTML): **strong**, *em*, `code`, [links](url). */
function inline(text) {
  const out = [];
  const re = /(\*\*([^*]+)\*\*|\*([^*]+)\*|_([^_]+)_|`([^`]+)`|\[([^\]]+)\]\((https?:\/\/[^)\s]+)\))/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    out.push(text.slice(last, m.index));
    if (m[2]) out.push(h("strong", null, m[2]));
    else if (m[3] || m[4]) out.push(h("em", null, m[3] || m[4]));
    else if (m[5]) out.push(h("code", null, m[5]));
    else out.push(h("a", { href: m[7], target: "_blank", rel: "noopener noreferrer" }, m[6]));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

/** A safe Markdown preview: headings, lists, quotes, code blocks and paragraphs, from text only. */
function preview(md) {
  return md.split(/\n{2,}/).map((block) => {
    const line = block.trim();
    if (line.startsWith("```")) return h("pre", null, h("code", null, line.replace(/^```\w*\n?|```$/g, "")));
    const heading = line.match(/^(#{1,6})\s+(.*)$/s);
    if (heading) return h(`h${Math.min(6, heading[1].length + 2)}`, null, inline(heading[2]));
    if (/^[-*+] /.test(line)) return h("ul", null, line.split("\n").map((l) => h("li", null, inline(l.replace(/^[-*+]\s*/, "")))));
    if (/^\d+[.)] /.test(line)) return h("ol", null, line.split("\n").map((l) => h("li", null, inline(l.replace(/^\d+[.)]\s*/, "")))));
    if (line.startsWith(">")) return h("blockquote", null, inline(line.replace(/^>\s?/gm, "")));
    return h("p", null, inline(line));
  });
}

/** Highlighted text from the server: only `<b>`/`<mark>` tags are honoured, the rest is text. */
function highlighted(fragment) {
  const out = [];
  const re = /<(b|mark|em)>(.*?)<\/\1>/gs;
  let last = 0;
  for (const m of fragment.matchAll(re)) {
    out.push(decode(fragment.slice(last, m.index)), h("mark", null, decode(m[2])));
    last = m.index + m[0].length;
  }
  out.push(decode(fragment.slice(last)));
  return out;
}

function decode(s) {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}

function noteCard(n, highlights) {
  const likes = h("button", { type: "button", class: "secondary", "aria-pressed": String(n.liked_by_me), onclick: (ev) => guard(async () => {
    const r = n.liked_by_me ? await del(`/notes/${n.id}/like`) : await post(`/notes/${n.id}/like`);
    n.liked_by_me = r.liked_by_me;
    ev.target.textContent = `♥ ${r.likes_count}`;
    ev.target.setAttribute("aria-pressed", String(r.liked_by_me));
  }) }, `♥ ${n.likes_count}`);
  const share = h("button", { type: "button", class: "secondary", onclick: (ev) => guard(async () => {
    const chats = await get("/chats?limit=100");
    const pick = h("select", { "aria-label": t("pick_chat") }, chats.items.map((c) => h("option", { value: c.id }, c.name || c.members.map((m) => m.user.name).join(", "))));
    const go = h("button", { type: "button", onclick: () => guard(async () => { await post(`/notes/${n.id}/share`, { chat_id: pick.value }); toast(t("shared")); box.remove(); }) }, t("share"));
    const box = h("div", { class: "row share-box" }, pick, go);
    ev.target.closest("article").append(box);
    pick.focus();
  }) }, t("share_to_chat"));
  return h("article", { class: "card note", data: { id: n.id } },
    h("h2", null, n.title || "…"),
    h("p", { class: "hint" }, `${n.author ? n.author.name : ""} · ${n.tags.map((x) => `#${x}`).join(" ")}`),
    highlights && highlights.length ? h("p", { class: "highlight" }, highlights.flatMap((f) => [...highlighted(f.snippet), " … "])) : h("div", null, preview(n.preview || n.content || "")),
    h("div", { class: "row" }, likes, share));
}

function editor(done) {
  const content = h("textarea", { name: "content", rows: 6, required: true, maxlength: 100000, "aria-label": t("note_content") });
  const out = h("div", { class: "preview", "aria-live": "polite" });
  content.addEventListener("input", () => out.replaceChildren(...preview(content.value)));
  const form = h("form", { class: "card", id: "note-editor" },
    field(t("note_title"), { name: "title", required: true, maxlength: 200 }),
    h("label", null, t("note_content"), content),
    h("details", null, h("summary", null, t("preview")), out),
    field(t("note_tags"), { name: "tags", placeholder: "biology, exam" }),
    h("label", null, t("attachments"), h("input", { type: "file", name: "files", multiple: true })),
    h("label", null, t("note_visibility"), h("select", { name: "visibility" },
      h("option", { value: "private" }, t("vis_private")), h("option", { value: "friends" }, t("vis_friends")), h("option", { value: "public" }, t("vis_public")))),
    h("button", { type: "submit" }, t("save_note")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const d = formData(form);
    delete d.files;
    d.tags = (d.tags || "").split(",").map((x) => x.trim()).filter(Boolean);
    guard(async () => {
      d.attachment_ids = [];
      for (const file of form.elements.files.files) {
        const fd = new FormData();
        fd.append("file", file);
        d.attachment_ids.push((await call("POST", "/media", fd)).id);
      }
      await post("/notes", d); form.reset(); out.replaceChildren(); toast(t("note_saved")); done(); });
  });
  return form;
}

/** One note (`#/notes/{id}`), e.g. from a note shared in a chat. */
async function single(id) {
  const n = await get(`/notes/${id}`);
  render(n.title || t("notes_title"), noteCard(n), h("div", { class: "card" }, h("pre", { class: "note-text" }, n.content)),
    n.attachments && n.attachments.length ? h("section", { class: "card" }, h("h2", null, t("attachments")),
      h("ul", null, n.attachments.map((a) => h("li", null, h("a", { href: a.url, target: "_blank", rel: "noopener" }, a.mime || "file"))))) : null);
}

export async function show(tab) {
  if (tab && tab !== "mine") return single(tab);
  tab = tab || "feed";
  const results = h("div", { id: "note-results" });
  const load = async () => {
    const page = tab === "mine" ? await get("/notes?author=me&limit=50") : await get("/notes/feed?limit=50");
    results.replaceChildren(...(page.items.length ? page.items.map((n) => noteCard(n)) : [h("p", { class: "hint" }, t("no_notes"))]));
  };
  const search = h("form", { class: "search", role: "search", id: "note-search" },
    h("input", { type: "search", name: "q", placeholder: t("search_notes"), "aria-label": t("search_notes") }), h("button", { type: "submit" }, "🔍"));
  search.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = search.elements.q.value.trim();
    if (!q) { guard(load); return; }
    guard(async () => {
      const page = await get(`/notes/search?q=${encodeURIComponent(q)}&limit=20`);
      results.replaceChildren(...(page.items.length ? page.items.map((hit) => noteCard(hit.note || hit, hit.highlights)) : [h("p", { class: "hint" }, t("no_notes"))]));
    });
  });
  const tabs = h("nav", { class: "tabs", "aria-label": t("notes_title") },
    h("a", { href: "#/notes", "aria-current": tab === "feed" ? "page" : null }, t("feed")),
    h("a", { href: "#/notes/mine", "aria-current": tab === "mine" ? "page" : null }, t("my_notes")));
  render(t("notes_title"), tabs, search, h("details", { class: "card" }, h("summary", null, t("new_note")), editor(() => guard(load))), results);
  await load();
}

// DOM helpers: user-provided text only ever goes in as text (never innerHTML).
import { formData, h } from "./dom.js";

export { formData, h };
export const $ = (sel, root) => (root || document).querySelector(sel);

/** A labelled input: `field("Name", { name: "name", required: true })`. */
export const field = (label, attrs, tag) => h("label", null, label, h(tag || "input", attrs));

export function toast(text, isError) {
  const box = $("#toast");
  box.textContent = text || "";
  box.className = isError ? "error" : "";
  box.hidden = !text;
  clearTimeout(toast.timer);
  if (text) toast.timer = setTimeout(() => { box.hidden = true; }, isError ? 8000 : 4000);
}

export async function guard(f) {
  try { return await f(); } catch (e) { toast(e.message, true); return undefined; }
}

export const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
export const day = (iso) => new Date(iso).toLocaleDateString();
/** Today in the browser's time zone, `YYYY-MM-DD`. */
export function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Replaces the main view's content, with a heading for screen readers and the focus on it. */
export function render(title, ...children) {
  const main = $("#view");
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...children);
  document.title = `${title} · Friend`;
  heading.focus({ preventScroll: true });
}

/** An object URL of an authorised SVG or image fetch. */
export async function blobUrl(call, path) {
  const res = await call("GET", path, undefined, { raw: true });
  return URL.createObjectURL(await res.blob());
}

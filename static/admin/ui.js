// Small DOM helpers. Everything user-provided goes in with textContent, never innerHTML.

import { formData, h } from "/app/js/dom.js";

export { formData, h };
export const $ = (id) => document.getElementById(id);

/** Shows a message at the top of the page (an error in red). */
export function say(text, isError) {
  $("message").textContent = text || "";
  $("message").className = isError ? "error" : "";
}

/** Runs `f`, showing its error as a message. */
export async function guard(f) {
  try { return await f(); } catch (e) { say(e.message, true); return undefined; }
}

/** A table row of cells (strings or nodes). */
export const row = (cells, attrs) => h("tr", attrs, ...cells.map((c) => h("td", null, c)));

/** A button; `secondary` draws it outlined. */
export function button(label, onClick, opts) {
  opts = opts || {};
  return h("button", { type: "button", class: opts.secondary === false ? null : "secondary", data: opts.action ? { action: opts.action } : undefined, onclick: onClick, "aria-label": opts.label }, label);
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
export const size = (n) => (n < 1048576 ? `${Math.max(1, Math.round(n / 1024))} KB` : `${(n / 1048576).toFixed(1)} MB`);

/** Fills a table body with rows. */
export function fill(tableId, rows, empty) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren(...rows);
  if (!rows.length && empty) body.append(h("tr", { class: "empty" }, h("td", { colspan: $(tableId).querySelectorAll("th").length }, empty)));
}

// The element builder the student app and the web admin share. User-provided text only ever goes
// in as text (never innerHTML).

/** Creates `tag` with attributes (`class`, `data`, `on*` listeners, `value`, others as attributes;
 * null, undefined and false are left out) and children (strings become text nodes). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "data") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** The fields of a form that have a value ({ name: value }; numbers for number inputs). */
export function formData(form) {
  const out = {};
  for (const [k, v] of new FormData(form)) if (typeof v === "string" && v !== "") out[k] = form.elements[k].type === "number" ? Number(v) : v;
  return out;
}

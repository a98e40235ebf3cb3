// The live connection: a one-time ticket, then the socket. Frames go to listeners by `type`.
// Messages are written to the student's own outbox (kept across reloads) with their `client_id` and leave it only
// when the server's `message.ack` says they are stored, so a message written offline is sent when
// the connection returns, and never twice (the server answers a repeated `client_id` with the
// stored message). After a reconnect, `sync` replays what was missed since the last `seq`.
import { outboxKey, post } from "./api.js";

const listeners = new Map();
let socket = null;
let open = false;
let lastSeq = Number(sessionStorage.getItem("friend.seq") || 0);
let retry = 0;
let timer = null;
let stopped = true;

export const isOpen = () => open;

/** Calls `f(frame)` for each frame of `type` ("*" for all); returns a function that stops it. */
export function on(type, f) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(f);
  return () => listeners.get(type).delete(f);
}

function emit(frame) {
  for (const key of [frame.type, "*"]) for (const f of listeners.get(key) || []) f(frame);
}

export function outbox() {
  try { return JSON.parse(localStorage.getItem(outboxKey()) || "[]"); } catch (_) { return []; }
}

function saveOutbox(items) { localStorage.setItem(outboxKey(), JSON.stringify(items)); }

function send(frame) {
  if (open) socket.send(JSON.stringify(frame));
  return open;
}

/** Queues a message and sends it now if connected. */
export function sendMessage(chatId, content, extra) {
  const item = { type: "message.send", chat_id: chatId, client_id: crypto.randomUUID(), kind: "text", content, ...(extra || {}), queued_at: new Date().toISOString() };
  saveOutbox([...outbox(), item]);
  send(item);
  emit({ type: "outbox.changed" });
  return item;
}

function flushOutbox() {
  for (const item of outbox()) send(item);
}

export const typing = (chatId, active) => send({ type: active ? "typing.start" : "typing.stop", chat_id: chatId });
export const delivered = (chatId, messageId) => send({ type: "message.delivered", chat_id: chatId, message_id: messageId });
export const read = (chatId, upTo) => send({ type: "message.read", chat_id: chatId, up_to_message_id: upTo });

async function connect() {
  if (stopped || socket) return;
  let ticket;
  try {
    ticket = (await post("/ws/ticket")).ticket;
  } catch (_) {
    return later();
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws?ticket=${encodeURIComponent(ticket)}`);
  socket = ws;
  ws.onmessage = (ev) => {
    let frame;
    try { frame = JSON.parse(ev.data); } catch (_) { return; }
    if (frame.type === "ready") {
      open = true;
      retry = 0;
      if (lastSeq) send({ type: "sync", since: lastSeq });
      else { lastSeq = frame.seq; sessionStorage.setItem("friend.seq", String(lastSeq)); }
      flushOutbox();
      emit({ type: "connection", open: true });
    }
    if (typeof frame.seq === "number" && frame.type !== "ready" && frame.seq > lastSeq) {
      lastSeq = frame.seq;
      sessionStorage.setItem("friend.seq", String(lastSeq));
    }
    if (frame.type === "message.ack") {
      saveOutbox(outbox().filter((m) => m.client_id !== frame.client_id));
      emit({ type: "outbox.changed" });
    }
    emit(frame);
  };
  ws.onclose = () => {
    if (socket === ws) { socket = null; open = false; emit({ type: "connection", open: false }); later(); }
  };
  ws.onerror = () => ws.close();
}

function later() {
  clearTimeout(timer);
  if (stopped) return;
  const wait = Math.min(30000, 500 * 2 ** retry++);
  timer = setTimeout(connect, wait);
}

/** Starts (or restarts at once, e.g. when the browser comes back online) the connection. */
export function start() {
  stopped = false;
  retry = 0;
  clearTimeout(timer);
  connect();
}

export function stop() {
  stopped = true;
  clearTimeout(timer);
  if (socket) { const s = socket; socket = null; open = false; s.close(); }
  lastSeq = 0;
  sessionStorage.removeItem("friend.seq");
}

setInterval(() => send({ type: "ping" }), 25000);
window.addEventListener("online", () => { if (!stopped) start(); });
window.addEventListener("offline", () => { if (socket) socket.close(); });

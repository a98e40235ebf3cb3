// The student app's service worker: the app shell is cached so the app opens offline (the page
// itself keeps its last API answers, see js/api.js), and Web Push notifications are shown.
const SHELL = "friend-shell-v1";
const DATA = "friend-data"; // kept by the page: not an old shell version
const FILES = [
  "/", "/app/app.css", "/app/icon.svg", "/manifest.webmanifest",
  "/app/js/app.js", "/app/js/api.js", "/app/js/ws.js", "/app/js/ui.js", "/app/js/dom.js", "/app/js/strings.js",
  "/app/js/views/auth.js", "/app/js/views/today.js", "/app/js/views/friends.js", "/app/js/views/chats.js",
  "/app/js/views/notes.js", "/app/js/views/reports.js", "/app/js/views/inbox.js", "/app/js/views/settings.js",
];

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== SHELL && k !== DATA).map((k) => caches.delete(k)))).then(() => self.clients.claim()));
});

self.addEventListener("fetch", (ev) => {
  const url = new URL(ev.request.url);
  if (ev.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname !== "/" && !url.pathname.startsWith("/app/") && url.pathname !== "/manifest.webmanifest") return;
  // The shell: cache first, refreshed in the background so an upgrade shows on the next visit.
  ev.respondWith(caches.open(SHELL).then(async (c) => {
    const hit = await c.match(url.pathname === "/" ? "/" : ev.request);
    const fresh = fetch(ev.request).then((res) => { if (res.ok) c.put(url.pathname === "/" ? "/" : ev.request, res.clone()); return res; }).catch(() => hit);
    return hit || fresh;
  }));
});

self.addEventListener("push", (ev) => {
  let data = {};
  try { data = ev.data ? ev.data.json() : {}; } catch (_) { data = { title: "Friend", body: ev.data ? ev.data.text() : "" }; }
  ev.waitUntil(self.registration.showNotification(data.title || "Friend", { body: data.body || data.content || "", data, icon: "/app/icon-192.png" }));
});

self.addEventListener("notificationclick", (ev) => {
  ev.notification.close();
  ev.waitUntil(self.clients.matchAll({ type: "window" }).then((list) => (list[0] ? list[0].focus() : self.clients.openWindow("/#/inbox"))));
});

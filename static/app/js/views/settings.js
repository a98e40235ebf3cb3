// Settings: profile, theme, privacy, notifications and push, devices, data export, sign out,
// and deleting the account.
import { call, del, get, me, patch, post, setMe, signOut } from "../api.js";
import { t } from "../strings.js";
import { field, formData, guard, h, render, toast } from "../ui.js";

/** Applies the theme: `light`, `dark` or `system`. */
export function applyTheme(theme) {
  const root = document.documentElement;
  if (theme === "light" || theme === "dark") root.dataset.theme = theme;
  else delete root.dataset.theme;
}

function check(name, label, checked) {
  return h("label", { class: "check" }, h("input", { type: "checkbox", name, checked: checked ? true : null }), label);
}

async function pushSection() {
  const box = h("section", { class: "card" }, h("h2", null, t("notifications")));
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !window.isSecureContext) {
    box.append(h("p", { class: "hint" }, t("push_unavailable")));
  } else {
    box.append(h("button", { type: "button", id: "push-on", onclick: () => guard(async () => {
      const { key } = await get("/push/vapid-public-key");
      const reg = await navigator.serviceWorker.ready;
      const raw = Uint8Array.from(atob(key.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: raw });
      await post("/push/subscriptions", sub.toJSON());
      toast(t("saved"));
    }) }, t("push_on")));
  }
  box.append(h("button", { type: "button", class: "secondary", onclick: () => guard(async () => {
    const r = await post("/push/ntfy");
    box.append(h("div", { class: "qr" }, h("img", { src: URL.createObjectURL(new Blob([r.qr_svg], { type: "image/svg+xml" })), alt: r.url, width: 200, height: 200 })), h("p", null, r.url));
  }) }, t("ntfy")));
  return box;
}

const TYPES = ["message", "friend_request", "friend_accepted", "goal_reminder", "goal_completed", "report_ready", "insight", "system"];

/** Per type: in the inbox and as a push; the student's quiet hours; message previews. */
async function notificationSettings() {
  const s = await get("/me/notification-settings");
  const rows = TYPES.map((type) => h("tr", null, h("th", { scope: "row" }, t(type === "message" ? "type_message_n" : `type_${type}`)),
    h("td", null, h("input", { type: "checkbox", name: `${type}.in_app`, checked: s[type].in_app ? true : null, "aria-label": `${t(type === "message" ? "type_message_n" : `type_${type}`)}: ${t("in_app")}` })),
    h("td", null, h("input", { type: "checkbox", name: `${type}.push`, checked: s[type].push ? true : null, "aria-label": `${t(type === "message" ? "type_message_n" : `type_${type}`)}: ${t("push")}` }))));
  const form = h("form", { class: "card", id: "notification-settings" }, h("h2", null, t("notif_types")),
    h("table", { class: "types" }, h("thead", null, h("tr", null, h("td"), h("th", { scope: "col" }, t("in_app")), h("th", { scope: "col" }, t("push")))), h("tbody", null, rows)),
    h("fieldset", null, h("legend", null, t("quiet_hours")), h("div", { class: "row" },
      field(t("quiet_from"), { name: "quiet_start", type: "time", value: s.quiet_hours ? s.quiet_hours.start : "" }),
      field(t("quiet_to"), { name: "quiet_end", type: "time", value: s.quiet_hours ? s.quiet_hours.end : "" }))),
    s.school_quiet_hours ? h("p", { class: "hint" }, t("school_quiet", s.school_quiet_hours)) : null,
    check("message_previews", t("message_previews"), s.message_previews),
    h("button", { type: "submit" }, t("save_profile")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const e = form.elements;
    const body = { message_previews: e.message_previews.checked };
    for (const type of TYPES) body[type] = { in_app: e[`${type}.in_app`].checked, push: e[`${type}.push`].checked };
    body.quiet_hours = e.quiet_start.value && e.quiet_end.value ? { start: e.quiet_start.value, end: e.quiet_end.value } : null;
    guard(async () => { await patch("/me/notification-settings", body); toast(t("saved")); });
  });
  return form;
}

export async function show(onSignedOut) {
  const [user, sessions] = await Promise.all([get("/me"), get("/auth/sessions")]);
  setMe(user);
  const settings = user.settings || {};
  const profile = h("form", { class: "card", id: "profile" },
    h("h2", null, t("profile")),
    field(t("register_name"), { name: "name", value: user.name, required: true, maxlength: 100 }),
    field(t("bio"), { name: "bio", value: user.bio, maxlength: 500 }),
    field(t("study_focus"), { name: "study_focus", value: user.study_focus, maxlength: 100 }),
    h("button", { type: "submit" }, t("save_profile")));
  profile.addEventListener("submit", (ev) => { ev.preventDefault(); guard(async () => { setMe(await patch("/me", formData(profile))); toast(t("saved")); }); });

  const theme = h("select", { name: "theme", id: "theme", "aria-label": t("theme"), onchange: (ev) => guard(async () => {
    applyTheme(ev.target.value);
    setMe(await patch("/me", { settings: { ...settings, theme: ev.target.value } }));
  }) }, ["system", "light", "dark"].map((v) => h("option", { value: v, selected: (settings.theme || "system") === v ? true : null }, t(`theme_${v}`))));

  const privacy = h("form", { class: "card", id: "privacy" }, h("h2", null, t("privacy")),
    h("label", null, t("profile_visibility"), h("select", { name: "profile_visibility" },
      h("option", { value: "everyone", selected: user.profile_visibility === "everyone" ? true : null }, t("vis_public")),
      h("option", { value: "friends", selected: user.profile_visibility === "friends" ? true : null }, t("vis_friends")))),
    check("presence", t("show_presence"), !settings.invisible),
    check("read_receipts", t("read_receipts"), settings.read_receipts !== false),
    check("insights", t("insights_on"), settings.insights !== false),
    h("button", { type: "submit" }, t("save_profile")));
  privacy.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const e = privacy.elements;
    guard(async () => {
      setMe(await patch("/me", { profile_visibility: e.profile_visibility.value, settings: { ...settings, invisible: !e.presence.checked, read_receipts: e.read_receipts.checked, insights: e.insights.checked } }));
      toast(t("saved"));
    });
  });

  const devices = h("ul", { class: "sessions" }, sessions.items.map((s) => h("li", null, `${s.device || t("unknown_device")} · ${s.ip}${s.current ? ` (${t("this_device")})` : ""}`,
    s.current ? null : h("button", { type: "button", class: "link", onclick: () => guard(async () => { await del(`/auth/sessions/${s.id}`); await show(onSignedOut); }) }, t("sign_out")))));

  const exportButton = h("button", { type: "button", class: "secondary", onclick: () => guard(async () => {
    const res = await call("GET", "/me/export", undefined, { raw: true });
    const a = h("a", { href: URL.createObjectURL(await res.blob()), download: `friend-${me().username}.json` });
    a.click();
  }) }, t("export"));
  const deleteButton = h("button", { type: "button", class: "danger", onclick: () => guard(async () => {
    const password = prompt(t("delete_confirm"));
    if (!password) return;
    await del("/me", { password });
    await signOut();
    onSignedOut();
  }) }, t("delete_account"));

  const photo = h("section", { class: "card avatar" }, h("h2", null, t("avatar")),
    user.profile_photo_url ? h("img", { src: user.profile_photo_url, alt: t("avatar"), width: 96, height: 96, id: "avatar-img" }) : null,
    h("input", { type: "file", accept: "image/*", "aria-label": t("avatar"), id: "avatar-file", onchange: (ev) => guard(async () => {
      const fd = new FormData();
      fd.append("file", ev.target.files[0]);
      await call("PUT", "/me/avatar", fd);
      toast(t("avatar_saved"));
      await show(onSignedOut);
    }) }));
  render(t("settings_title"), profile, photo,
    h("section", { class: "card" }, h("h2", null, t("theme")), theme),
    privacy, await notificationSettings(), await pushSection(),
    h("section", { class: "card" }, h("h2", null, t("sessions")), devices,
      h("div", { class: "row" },
        h("button", { type: "button", id: "sign-out", onclick: () => guard(async () => { await signOut(); onSignedOut(); }) }, t("sign_out")),
        h("button", { type: "button", class: "secondary", onclick: () => guard(async () => { await signOut(true); onSignedOut(); }) }, t("sign_out_everywhere")))),
    h("section", { class: "card" }, h("div", { class: "row" }, exportButton, deleteButton)));
}

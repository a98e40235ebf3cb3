// Announcements with read counts and who has not acknowledged yet.
import { call } from "../api.js";
import { $, button, fill, guard, row, say, when } from "../ui.js";

export async function load() {
  const page = await call("GET", "/admin/announcements?limit=50");
  fill("announcements", page.items.map((a) => row([
    when(a.created_at),
    a.title,
    `${a.acknowledged} of ${a.recipients}`,
    a.acknowledged < a.recipients
      ? button("Who?", () => guard(async () => {
        const d = await call("GET", `/admin/announcements/${a.id}`);
        const names = d.recipients_list.filter((r) => !r.acknowledged_at).map((r) => r.username);
        say(`Not yet acknowledged "${a.title}": ${names.join(", ")}.`);
      }))
      : "everyone",
  ], { data: { id: a.id } })), "No announcements yet.");
}

$("new-announcement").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const to = f.elements.to.value;
  const audience = to === "all" ? { all: true } : { role: to.slice("role:".length) };
  guard(async () => {
    const a = await call("POST", "/admin/announcements", { title: f.elements.title.value, body: f.elements.body.value, audience });
    f.reset();
    say(`Announcement sent to ${a.recipients} ${a.recipients === 1 ? "person" : "people"}.`);
    await load();
  });
});

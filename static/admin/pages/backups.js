// Backups (admins): make one now, download, verify; each is in the audit log.
import { call, fetchAuthed } from "../api.js";
import { $, button, fill, guard, h, row, say, size, when } from "../ui.js";

export async function load() {
  const page = await call("GET", "/admin/backups");
  fill("backups", page.items.map((b) => row([
    when(b.created_at),
    size(b.size_bytes),
    b.complete ? String(b.records) : "damaged",
    h("span", { title: b.sha256 || "" }, b.sha256 ? `${b.sha256.slice(0, 12)}…` : "–"),
    h("span", { class: "actions" },
      button("Download", () => guard(async () => {
        const res = await fetchAuthed(`/admin/backups/${encodeURIComponent(b.id)}`);
        const link = h("a", { href: URL.createObjectURL(await res.blob()), download: b.id });
        link.click();
        URL.revokeObjectURL(link.href);
      }), { action: "download" }),
      button("Verify", () => guard(async () => {
        try {
          const v = await call("POST", `/admin/backups/${encodeURIComponent(b.id)}/verify`, {});
          say(`${b.id} is whole: ${v.records} records, checksum verified.`);
        } catch (e) { say(`${b.id}: ${e.message}`, true); }
      }), { action: "verify" })),
  ], { data: { id: b.id } })), "No backups yet.");
}

$("backup-now").addEventListener("click", () => guard(async () => {
  say("Backing up…");
  const b = await call("POST", "/admin/backups", {});
  say(`Backup ${b.id} written and verified (${size(b.size_bytes)}).`);
  await load();
}));

// Invite codes: create (expiry, use limit), share the join link and its QR code, delete.
import { all, call, svgUrl } from "../api.js";
import { $, button, fill, formData, guard, h, row, say, when } from "../ui.js";

async function showQr(inv) {
  const url = await svgUrl(`/admin/invites/${encodeURIComponent(inv.code)}/qr.svg`);
  const img = h("img", { src: url, alt: `QR code of ${inv.join_url}`, width: 240, height: 240 });
  $("invite-qr").replaceChildren(
    h("h3", null, `Invite ${inv.code}`),
    img,
    h("p", null, h("a", { href: inv.join_url, target: "_blank", rel: "noopener" }, inv.join_url)),
    h("p", { class: "hint" }, "Students scan the code or open the link, then register with this invite code."),
    button("Print", () => window.print()),
  );
  $("invite-qr").hidden = false;
}

export async function load() {
  const list = await all("/admin/invites");
  fill("invites", list.map((inv) => row([
    inv.code,
    inv.max_uses ? `${inv.uses} / ${inv.max_uses}` : `${inv.uses}`,
    inv.expires_at ? when(inv.expires_at) : "never",
    h("span", { class: "actions" },
      button("QR code", () => guard(() => showQr(inv)), { action: "qr" }),
      button("Delete", () => guard(async () => {
        await call("DELETE", `/admin/invites/${encodeURIComponent(inv.code)}`);
        say(`Invite ${inv.code} deleted.`);
        await load();
      }), { action: "delete" })),
  ], { data: { code: inv.code } })), "No invite codes yet.");
}

$("new-invite").addEventListener("submit", (ev) => {
  ev.preventDefault();
  guard(async () => {
    const inv = await call("POST", "/admin/invites", formData(ev.target));
    ev.target.reset();
    say(`Invite ${inv.code} created.`);
    await load();
    await showQr(inv);
  });
});

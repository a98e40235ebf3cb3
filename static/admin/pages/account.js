// The signed-in staff member's own two-factor login: set up from a QR code, confirm with a first
// code (recovery codes shown once), renew recovery codes, turn off.
import { call } from "../api.js";
import { $, formData, guard, h, say } from "../ui.js";

function showForm(id) {
  for (const f of ["tfa-setup", "tfa-confirm", "tfa-manage"]) $(f).hidden = f !== id;
}

function showRecovery(codes) {
  $("tfa-recovery").replaceChildren(
    h("p", null, "Recovery codes: each signs you in once if you lose your phone. Keep them somewhere safe; they are not shown again."),
    h("ol", { class: "codes" }, codes.map((c) => h("li", null, c))),
  );
  $("tfa-recovery").hidden = false;
}

export async function load() {
  const s = await call("GET", "/auth/2fa");
  $("tfa-state").textContent = s.enabled
    ? `Two-factor login is on (${s.recovery_codes_left} recovery codes left).`
    : s.required ? "The school requires two-factor login for staff: set it up to use the admin." : "Two-factor login is off.";
  $("tfa-recovery").hidden = true;
  showForm(s.enabled ? "tfa-manage" : "tfa-setup");
}

$("tfa-setup").addEventListener("submit", (ev) => {
  ev.preventDefault();
  guard(async () => {
    const r = await call("POST", "/auth/2fa/setup", formData(ev.target));
    ev.target.reset();
    const img = h("img", { src: URL.createObjectURL(new Blob([r.qr_svg], { type: "image/svg+xml" })), alt: "QR code for the authenticator app", width: 260, height: 260 });
    $("tfa-qr").replaceChildren(img, h("p", null, "Or type this key: ", h("code", { id: "tfa-secret" }, r.secret)));
    showForm("tfa-confirm");
    say("Scan the code with an authenticator app, then type the 6-digit code it shows.");
  });
});

$("tfa-confirm").addEventListener("submit", (ev) => {
  ev.preventDefault();
  guard(async () => {
    const r = await call("POST", "/auth/2fa/enable", formData(ev.target));
    ev.target.reset();
    await load();
    showRecovery(r.recovery_codes);
    say("Two-factor login is on. Your other sessions were signed out.");
  });
});

$("tfa-manage").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const which = ev.submitter && ev.submitter.value;
  guard(async () => {
    const body = formData(ev.target);
    if (which === "renew") {
      const r = await call("POST", "/auth/2fa/recovery-codes", body);
      ev.target.reset();
      await load();
      showRecovery(r.recovery_codes);
      say("New recovery codes; the old ones no longer work.");
    } else {
      await call("POST", "/auth/2fa/disable", body);
      ev.target.reset();
      await load();
      say("Two-factor login is off.");
    }
  });
});

// Sign in (with a two-factor code when the account has one), register (with an invite code),
// and choose a password with a code from a teacher (a roster setup code or a reset code).
import { call, keep } from "../api.js";
import { t } from "../strings.js";
import { field, formData, guard, h, render, toast } from "../ui.js";

const links = (...which) => h("p", { class: "links" }, which.map(([href, key]) => h("a", { href }, t(key))));

export function signIn(done) {
  const code = field(t("signin_code"), { name: "two_factor_code", inputmode: "numeric", autocomplete: "one-time-code" });
  code.hidden = true;
  const form = h("form", { class: "card", id: "signin" },
    field(t("signin_login"), { name: "login", required: true, autocomplete: "username" }),
    field(t("signin_password"), { name: "password", type: "password", required: true, autocomplete: "current-password" }),
    code,
    h("button", { type: "submit" }, t("signin_button")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      keep(await call("POST", "/auth/login", formData(form)));
      done();
    } catch (e) {
      if (e.code === "two_factor_required") { code.hidden = false; code.querySelector("input").focus(); toast(t("signin_need_code")); } else toast(e.message, true);
    }
  });
  render(t("signin_title"), form, links(["#/register", "no_account"], ["#/reset", "have_code"]));
}

export function register(done) {
  const invite = new URLSearchParams(location.search).get("invite") || sessionStorage.getItem("friend.invite") || "";
  const form = h("form", { class: "card", id: "register" },
    field(t("register_name"), { name: "name", required: true, maxlength: 100, autocomplete: "name" }),
    field(t("register_username"), { name: "username", required: true, minlength: 3, maxlength: 32, autocomplete: "username" }),
    field(t("register_email"), { name: "email", type: "email", required: true, autocomplete: "email" }),
    field(t("register_password"), { name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" }),
    field(t("register_invite"), { name: "invite_code", value: invite, autocomplete: "off" }),
    h("button", { type: "submit" }, t("register_button")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(async () => {
      keep(await call("POST", "/auth/register", formData(form)));
      sessionStorage.removeItem("friend.invite");
      done();
    });
  });
  render(t("register_title"), form, links(["#/signin", "have_account"], ["#/reset", "have_code"]));
}

export function reset() {
  const form = h("form", { class: "card", id: "reset" },
    h("p", { class: "hint" }, t("reset_hint")),
    field(t("reset_login"), { name: "login", required: true, autocomplete: "username" }),
    field(t("reset_code"), { name: "code", required: true, autocomplete: "off", placeholder: "K7QM-4XPR" }),
    field(t("reset_password"), { name: "new_password", type: "password", required: true, minlength: 8, autocomplete: "new-password" }),
    h("button", { type: "submit" }, t("reset_button")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(async () => {
      await call("POST", "/auth/reset", formData(form));
      toast(t("reset_done"));
      location.hash = "#/signin";
    });
  });
  render(t("reset_title"), form, links(["#/signin", "have_account"]));
}

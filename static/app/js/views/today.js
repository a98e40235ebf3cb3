// Today: the study timer by subject, sleep and mood, today's total, the streak and the goals.
import { get, patch, post } from "../api.js";
import { t } from "../strings.js";
import { field, guard, h, render, time, toast, today } from "../ui.js";

const MOODS = ["😣", "🙁", "😐", "🙂", "😄"];

async function timerCard(refresh) {
  const timer = await get("/study-timer");
  if (timer && timer.running) {
    return h("section", { class: "card timer running", "aria-live": "polite" },
      h("p", null, t("timer_running", { subject: timer.subject, since: time(timer.started_at) })),
      h("button", { type: "button", id: "timer-stop", onclick: () => guard(async () => { await post("/study-timer/stop"); await refresh(); }) }, t("timer_stop")));
  }
  const form = h("form", { class: "card timer", id: "timer" },
    field(t("timer_subject"), { name: "subject", required: true, maxlength: 60, list: "subjects" }),
    h("button", { type: "submit" }, t("timer_start")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(async () => { await post("/study-timer/start", { subject: form.elements.subject.value.trim() }); await refresh(); });
  });
  return form;
}

function dayCard(log) {
  const date = today();
  let mood = log && log.mood ? log.mood.score : null;
  const moods = h("div", { class: "moods", role: "radiogroup", "aria-label": t("mood") }, MOODS.map((emoji, i) => {
    const score = i + 1;
    return h("button", { type: "button", role: "radio", "aria-checked": String(mood === score), "aria-label": t(`mood_${score}`), class: "mood", data: { score: String(score) },
      onclick: (ev) => { mood = score; for (const b of ev.currentTarget.parentElement.children) b.setAttribute("aria-checked", String(b.dataset.score === String(score))); } }, emoji);
  }));
  const form = h("form", { class: "card", id: "day" },
    field(t("sleep"), { name: "sleep_hours", type: "number", min: 0, max: 24, step: 0.5, value: log && log.sleep_hours != null ? log.sleep_hours : "" }),
    h("fieldset", null, h("legend", null, t("mood")), moods),
    h("button", { type: "submit" }, t("save_day")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {};
    const sleep = form.elements.sleep_hours.value;
    if (sleep !== "") body.sleep_hours = Number(sleep);
    if (mood) body.mood = { score: mood, emoji: MOODS[mood - 1], label: t(`mood_${mood}`) };
    guard(async () => { await patch(`/activities/${date}`, body); toast(t("day_saved")); });
  });
  return form;
}

export async function show() {
  const refresh = () => show();
  const date = today();
  const [logs, week, goals] = await Promise.all([
    get(`/activities?from=${date}&to=${date}`),
    get("/reports/weekly?week=" + isoWeek()),
    get("/goals?status=active"),
  ]);
  const log = logs.items[0] || null;
  const minutes = log ? log.study_minutes : 0;
  const summary = h("section", { class: "card summary" },
    h("p", { class: "big", id: "today-total" }, t("today_total", { minutes })),
    h("p", { id: "streak" }, week.streak_days === 1 ? t("streak_one") : t("streak", { days: week.streak_days })));
  const goalList = goals.items.length
    ? h("ul", { class: "goals" }, goals.items.map((g) => h("li", null, t("goal_line", { title: g.title, percent: Math.round(g.progress_ratio * 100) }),
      h("progress", { max: 1, value: Math.min(1, g.progress_ratio), "aria-label": g.title }))))
    : h("p", { class: "hint" }, t("no_goals"));
  render(t("today_title"), summary, await timerCard(refresh), dayCard(log), h("section", { class: "card" }, h("h2", null, t("goals")), goalList));
}

/** This ISO week, `YYYY-Www`. */
export function isoWeek(d) {
  d = d ? new Date(d) : new Date();
  const target = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
  const dayNr = (target.getUTCDay() + 6) % 7;
  target.setUTCDate(target.getUTCDate() - dayNr + 3);
  const firstThursday = new Date(Date.UTC(target.getUTCFullYear(), 0, 4));
  const week = 1 + Math.round(((target - firstThursday) / 86400000 - 3 + ((firstThursday.getUTCDay() + 6) % 7)) / 7);
  return `${target.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

// Reports: this week or month with the server's SVG chart, the comparison with the period
// before, goals, and the insights with the numbers behind them.
import { call, get } from "../api.js";
import { t } from "../strings.js";
import { blobUrl, h, render } from "../ui.js";

export async function show(period) {
  period = period === "month" ? "month" : "week";
  const path = period === "month" ? "/reports/monthly" : "/reports/weekly";
  const now = new Date();
  const query = period === "month" ? `month=${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}` : `week=${(await import("./today.js")).isoWeek()}`;
  const dark = document.documentElement.dataset.theme === "dark" || (document.documentElement.dataset.theme !== "light" && matchMedia("(prefers-color-scheme: dark)").matches);
  const width = Math.max(320, Math.min(1600, Math.round(document.getElementById("view").clientWidth || 800)));
  const [report, chart, insights] = await Promise.all([
    get(`${path}?${query}`),
    blobUrl(call, `${path}/chart.svg?${query}&width=${width}&theme=${dark ? "dark" : "light"}`),
    get("/insights").catch(() => ({ items: [] })),
  ]);
  const delta = report.compared_to_previous ? report.compared_to_previous.study_minutes_delta : 0;
  const tabs = h("nav", { class: "tabs", "aria-label": t("reports_title") },
    h("a", { href: "#/reports", "aria-current": period === "week" ? "page" : null }, t("this_week")),
    h("a", { href: "#/reports/month", "aria-current": period === "month" ? "page" : null }, t("this_month")));
  render(t("reports_title"), tabs,
    h("section", { class: "card" },
      h("p", { class: "big", id: "report-total" }, `${report.study_minutes_total} min`),
      h("p", { class: "hint" }, t("vs_previous", { delta: delta > 0 ? `+${delta}` : delta })),
      h("img", { id: "report-chart", src: chart, alt: `${report.study_minutes_total} min`, class: "chart" })),
    report.goals && report.goals.length ? h("section", { class: "card" }, h("h2", null, t("goals_in_period")), h("ul", { class: "goals" }, report.goals.map((g) =>
      h("li", null, `${g.title}: ${Math.round(g.progress_ratio * 100)}% (${g.status})`, h("progress", { max: 1, value: Math.min(1, g.progress_ratio), "aria-label": g.title }))))) : null,
    h("section", { class: "card" }, h("h2", null, t("insights")),
      insights.items.length ? h("ul", { class: "insights" }, insights.items.map((i) => h("li", null, h("strong", null, i.title), h("p", null, i.body),
        h("details", null, h("summary", null, t("why")), h("pre", null, JSON.stringify(i.evidence, null, 2)))))) : h("p", { class: "hint" }, t("no_insights"))));
}

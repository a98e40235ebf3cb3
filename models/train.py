#!/usr/bin/env python3
"""Train Friend's insights model and write models/insights.onnx, insights.json and fixtures.json.

    pip install -r models/requirements.txt
    python3 models/train.py                       # synthetic cohort, fixed seed (what ships)
    python3 models/train.py --data rows.jsonl     # a school's own rows (friend insights export-training-data)
    python3 models/train.py --out /tmp/m          # write somewhere else

The generating rules of the synthetic cohort are written down in models/MODEL.md; the feature
definitions below are the same as the server's (src/ml/features.rs), in the same order.
The ONNX graph uses standard operators only (Sub, Div, Max, Min, MatMul, Add, Mul, Sigmoid, Relu),
so the server's pure-Rust runtime (tract, through ort) runs it exactly.
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import sys

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import brier_score_loss, mean_absolute_error, r2_score, roc_auc_score

SEED = 20261202
NAME = "friend-insights"
VERSION = "1.0.0"

# (name, unit, low, high): the order is the model's input order.
USER_FEATURES = [
    ("study_mean", "minutes/day", 0, 1440),
    ("study_trend", "minutes/day", -1440, 1440),
    ("study_vs_baseline", "log2 ratio", -7, 7),
    ("long_days", "days", 0, 28),
    ("session_mean", "minutes", 0, 1440),
    ("late_share", "fraction", 0, 1),
    ("sleep_mean", "hours", 0, 24),
    ("sleep_sd", "hours", 0, 12),
    ("sleep_debt", "hours", 0, 56),
    ("mood_mean", "score 1..5", 1, 5),
    ("mood_slope", "points/week", -4, 4),
    ("days_unlogged", "days", 0, 28),
    ("streak", "days", 0, 28),
    ("weekend_share", "fraction", 0, 1),
    ("last7_minutes", "minutes", 0, 10080),
]
GOAL_FEATURES = [
    ("elapsed", "fraction", 0, 1),
    ("progress", "fraction of target", 0, 2),
    ("pace", "log2 ratio", -5, 5),
    ("need_vs_rate", "log2 ratio", -7, 7),
    ("days_left", "days", 0, 366),
    ("active_share", "fraction", 0, 1),
]

WINDOW = 28
BASELINE = 56
HORIZON = 14
GOAL_MAX = 31
SLEEP_NEED = 8.0
LONG_DAY = 360
LATE_FROM, LATE_TO = 22, 5  # a session starting 22:00..04:59 local is late


# ---------------------------------------------------------------- features (same as the server)

def user_features(study, sessions, late, logged, sleep, mood, weekday, end):
    """Features as of day `end` (today, not included) from per-day arrays of one student."""
    w = slice(end - WINDOW, end)
    b0 = max(0, end - WINDOW - BASELINE)
    st = np.where(logged[w], study[w], 0.0)
    study_mean = st.sum() / WINDOW
    trend = st[14:].sum() / 14 - st[:14].sum() / 14
    base_logged = logged[b0:end - WINDOW]
    if base_logged.sum() >= 7:
        base_mean = np.where(base_logged, study[b0:end - WINDOW], 0.0).sum() / (end - WINDOW - b0)
        vs_base = math.log2((study_mean + 10) / (base_mean + 10))
    else:
        vs_base = 0.0
    long_days = float(((st >= LONG_DAY) & logged[w]).sum())
    n_sess = np.where(logged[w], sessions[w], 0).sum()
    session_mean = st.sum() / n_sess if n_sess > 0 else 0.0
    n_late = np.where(logged[w], late[w], 0).sum()
    late_share = n_late / n_sess if n_sess > 0 else 0.0
    sl = sleep[w][logged[w] & ~np.isnan(sleep[w])]
    sleep_mean = sl.mean() if len(sl) else SLEEP_NEED
    sleep_sd = sl.std() if len(sl) >= 2 else 0.0
    s7 = sleep[end - 7:end][logged[end - 7:end] & ~np.isnan(sleep[end - 7:end])]
    debt = float(np.maximum(0, SLEEP_NEED - s7).sum())
    mw = mood[w]
    mm = logged[w] & ~np.isnan(mw)
    mood_mean = mw[mm].mean() if mm.sum() else 3.0
    if mm.sum() >= 3:
        x = np.arange(WINDOW)[mm].astype(float)
        y = mw[mm]
        xc = x - x.mean()
        den = (xc * xc).sum()
        slope = (xc * (y - y.mean())).sum() / den * 7 if den > 0 else 0.0
    else:
        slope = 0.0
    unlogged = float(WINDOW - logged[w].sum())
    streak = 0
    for d in range(end - 1, end - WINDOW - 1, -1):
        if logged[d] and study[d] > 0:
            streak += 1
        else:
            break
    wkend = (weekday[w] >= 5)
    total = st.sum()
    weekend_share = st[wkend].sum() / total if total > 0 else 0.0
    last7 = st[-7:].sum()
    return [study_mean, trend, vs_base, long_days, session_mean, late_share, sleep_mean, sleep_sd,
            debt, mood_mean, slope, unlogged, float(streak), weekend_share, last7]


def goal_features(progress_value, target, days_elapsed, length, active_days14):
    elapsed = days_elapsed / length
    progress = min(progress_value / target, 2.0)
    pace = math.log2((progress + 0.05) / (elapsed + 0.05))
    days_left = length - days_elapsed
    req = max(0.0, 1 - progress) / max(days_left, 1)
    rate = progress / max(days_elapsed, 1)
    need = math.log2((req + 0.01) / (rate + 0.01))
    return [elapsed, progress, pace, need, float(days_left), active_days14 / 14]


# ---------------------------------------------------------------- the synthetic cohort

def simulate(n, rng):
    """Simulate n students for BASELINE + WINDOW + GOAL_MAX days (rules: MODEL.md)."""
    T = BASELINE + WINDOW + GOAL_MAX + 1
    base = np.clip(rng.lognormal(math.log(90), 0.55, n), 10, 420)
    sleep0 = rng.normal(7.9, 0.6, n)
    late_p = rng.beta(2, 7, n)
    log_p = rng.beta(9, 2, n)
    mood0 = rng.normal(3.7, 0.35, n)
    resil = np.clip(rng.normal(1.0, 0.2, n), 0.5, 1.6)
    weekend = rng.uniform(0.3, 1.2, n)
    crunch = rng.random(n) < 0.55
    c_start = rng.integers(30, T - 10, n)
    c_len = rng.integers(10, 28, n)
    c_gain = rng.uniform(1.4, 2.8, n)
    sess_len = np.clip(rng.lognormal(math.log(40), 0.35, n), 15, 120)
    first_weekday = rng.integers(0, 7, n)

    study = np.zeros((n, T)); sessions = np.zeros((n, T), dtype=int); late = np.zeros((n, T), dtype=int)
    sleep = np.zeros((n, T)); mood = np.zeros((n, T)); logged = np.zeros((n, T), dtype=bool)
    burnt = np.zeros((n, T), dtype=bool); weekday = np.zeros((n, T), dtype=int)
    debt = np.zeros(n); load = np.zeros(n); left = np.zeros(n, dtype=int); mood_prev = mood0.copy()
    for t in range(T):
        wd = (first_weekday + t) % 7
        weekday[:, t] = wd
        inten = np.where(crunch & (t >= c_start) & (t < c_start + c_len), c_gain, 1.0)
        b = left > 0
        wk = np.where(wd >= 5, weekend, 1.0)
        rest = rng.random(n) < 0.08
        s = base * inten * wk * (0.7 + 0.1 * mood_prev) * np.exp(-0.035 * debt) * rng.lognormal(0, 0.35, n)
        s = np.where(b, s * 0.25, s)
        s = np.where(rest, 0.0, np.clip(s, 0, 900))
        n_s = np.where(s > 0, np.maximum(1, np.round(s / (sess_len * (1 + 0.25 * (inten - 1))))), 0).astype(int)
        lshare = np.clip(late_p * inten, 0, 0.95)
        n_l = rng.binomial(n_s, lshare)
        sl = sleep0 - 0.45 * (inten - 1) - 1.2 * np.where(n_s > 0, n_l / np.maximum(n_s, 1), 0) \
            - 0.002 * (s - base) + rng.normal(0, 0.7, n)
        sl = np.clip(sl, 3, 11.5)
        debt = 0.75 * debt + np.maximum(0, SLEEP_NEED - sl)
        load = np.maximum(0, 0.9 * load + 0.006 * np.maximum(0, s - 200) + 0.3 * np.maximum(0, 7 - sl)
                          + 0.35 * np.maximum(0, 3 - mood_prev) - 0.05 * resil)
        onset = (~b) & (rng.random(n) < 0.12 / (1 + np.exp(-2.0 * (load - 4.0 * resil))))
        left = np.where(onset, rng.integers(7, 22, n), np.maximum(0, left - 1))
        b = left > 0
        m = mood0 + 0.25 * (sl - 7.5) - 0.06 * debt - 0.2 * load - 1.3 * b + rng.normal(0, 0.55, n)
        m = np.clip(np.round(m), 1, 5)
        mood_prev = m
        lg = rng.random(n) < log_p * np.where(m <= 2, 0.75, 1.0)
        study[:, t], sessions[:, t], late[:, t] = s, n_s, n_l
        sleep[:, t], mood[:, t], logged[:, t], burnt[:, t] = np.round(sl * 4) / 4, m, lg, b
    # a student logs sleep and mood on most logged days, not all
    sleep[~(rng.random(sleep.shape) < 0.9)] = np.nan
    mood[~(rng.random(mood.shape) < 0.85)] = np.nan
    return dict(study=np.round(study), sessions=sessions, late=late, sleep=sleep, mood=mood,
                logged=logged, burnt=burnt, weekday=weekday, base=base)


def synthetic_rows(n, rng):
    sim = simulate(n, rng)
    end = BASELINE + WINDOW
    X, yb, yf, G, yg = [], [], [], [], []
    for i in range(n):
        a = {k: sim[k][i] for k in ("study", "sessions", "late", "logged", "sleep", "mood", "weekday")}
        X.append(user_features(a["study"], a["sessions"], a["late"], a["logged"], a["sleep"], a["mood"],
                               a["weekday"], end))
        yb.append(int(sim["burnt"][i, end:end + HORIZON].any()))
        yf.append(float(np.where(a["logged"][end:end + 7], a["study"][end:end + 7], 0).sum()))
        active14 = int((a["logged"][end - 14:end] & (a["study"][end - 14:end] > 0)).sum())
        for _ in range(rng.integers(1, 3)):
            length = int(rng.choice([7, 14, 28, 30]))
            e = int(rng.integers(1, length))
            start = end - e
            target = max(30.0, round(sim["base"][i] * length * rng.uniform(0.3, 1.2) / 10) * 10)
            logged_study = np.where(a["logged"], a["study"], 0)
            done = logged_study[start:end].sum()
            final = logged_study[start:start + length].sum()
            G.append(goal_features(done, target, e, length, active14))
            yg.append(int(final >= target))
    return np.array(X), np.array(yb), np.array(yf), np.array(G), np.array(yg)


def file_rows(path):
    """Rows written by `friend insights export-training-data` (JSON Lines)."""
    X, yb, yf, G, yg = [], [], [], [], []
    un = [f[0] for f in USER_FEATURES]
    gn = [f[0] for f in GOAL_FEATURES]
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("kind") == "user":
                X.append([float(r["features"][k]) for k in un])
                yb.append(int(r["burnout_episode"]))
                yf.append(float(r["next_week_minutes"]))
            elif r.get("kind") == "goal":
                G.append([float(r["features"][k]) for k in gn])
                yg.append(int(r["on_time"]))
    if len(X) < 200 or len(G) < 50 or len(set(yb)) < 2 or len(set(yg)) < 2:
        sys.exit(f"{path}: too few rows to train on ({len(X)} user rows, {len(G)} goal rows; "
                 "need 200 and 50 with both outcomes present)")
    return np.array(X), np.array(yb), np.array(yf), np.array(G), np.array(yg)


# ---------------------------------------------------------------- training and metrics

def clip(X, spec):
    lo = np.array([s[2] for s in spec], dtype=float)
    hi = np.array([s[3] for s in spec], dtype=float)
    return np.clip(X, lo, hi)


def standardise(X):
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd < 1e-6] = 1.0
    return mu, sd


def calibration(p, y, bins=5):
    out = []
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (p >= lo) & (p < hi if hi < 1 else p <= hi)
        if m.sum():
            out.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(m.sum()), "predicted": round(float(p[m].mean()), 3),
                        "observed": round(float(y[m].mean()), 3)})
    return out


def split(n, rng, frac=0.25):
    idx = rng.permutation(n)
    k = int(n * frac)
    return idx[k:], idx[:k]


def fit(X, yb, yf, G, yg, rng):
    X, G = clip(X, USER_FEATURES), clip(G, GOAL_FEATURES)
    tr, te = split(len(X), rng)
    gtr, gte = split(len(G), rng)
    mu, sd = standardise(X[tr])
    gmu, gsd = standardise(G[gtr])
    Z, ZG = (X - mu) / sd, (G - gmu) / gsd
    burn = LogisticRegression(C=1.0, max_iter=2000).fit(Z[tr], yb[tr])
    fc = Ridge(alpha=1.0).fit(Z[tr], yf[tr])
    goal = LogisticRegression(C=1.0, max_iter=2000).fit(ZG[gtr], yg[gtr])
    pb = burn.predict_proba(Z[te])[:, 1]
    pf = np.maximum(0, fc.predict(Z[te]))
    pg = goal.predict_proba(ZG[gte])[:, 1]
    naive = X[te, 14]  # "next week = last week"
    metrics = {
        "rows": {"students": int(len(X)), "goals": int(len(G)), "held_out_students": int(len(te)),
                 "held_out_goals": int(len(gte))},
        "burnout": {"positive_rate": round(float(yb.mean()), 3), "auc": round(roc_auc_score(yb[te], pb), 3),
                    "brier": round(brier_score_loss(yb[te], pb), 4),
                    "brier_base_rate": round(brier_score_loss(yb[te], np.full(len(te), yb[tr].mean())), 4),
                    "calibration": calibration(pb, yb[te])},
        "goal_on_time": {"positive_rate": round(float(yg.mean()), 3), "auc": round(roc_auc_score(yg[gte], pg), 3),
                         "brier": round(brier_score_loss(yg[gte], pg), 4),
                         "calibration": calibration(pg, yg[gte])},
        "forecast": {"mae_minutes": round(mean_absolute_error(yf[te], pf), 1), "r2": round(r2_score(yf[te], pf), 3),
                     "mae_last_week_baseline": round(mean_absolute_error(yf[te], naive), 1)},
    }
    params = dict(mu=mu, sd=sd, wb=burn.coef_[0], bb=burn.intercept_[0], wf=fc.coef_, bf=fc.intercept_,
                  gmu=gmu, gsd=gsd, wg=goal.coef_[0], bg=goal.intercept_[0])
    return params, metrics


# ---------------------------------------------------------------- the ONNX graph

def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def graph(p):
    lo = [s[2] for s in USER_FEATURES]; hi = [s[3] for s in USER_FEATURES]
    glo = [s[2] for s in GOAL_FEATURES]; ghi = [s[3] for s in GOAL_FEATURES]
    nu, ng = len(USER_FEATURES), len(GOAL_FEATURES)
    init = [const("u_lo", lo), const("u_hi", hi), const("u_mu", p["mu"]), const("u_sd", p["sd"]),
            const("wb_row", p["wb"]), const("wb", np.reshape(p["wb"], (nu, 1))), const("bb", [p["bb"]]),
            const("wf_row", p["wf"]), const("wf", np.reshape(p["wf"], (nu, 1))), const("bf", [p["bf"]]),
            const("g_lo", glo), const("g_hi", ghi), const("g_mu", p["gmu"]), const("g_sd", p["gsd"]),
            const("wg_row", p["wg"]), const("wg", np.reshape(p["wg"], (ng, 1))), const("bg", [p["bg"]])]
    N = helper.make_node
    nodes = [
        N("Max", ["user", "u_lo"], ["u1"]), N("Min", ["u1", "u_hi"], ["u2"]),
        N("Sub", ["u2", "u_mu"], ["u3"]), N("Div", ["u3", "u_sd"], ["uz"]),
        N("Mul", ["uz", "wb_row"], ["burnout_contributions"]),
        N("MatMul", ["uz", "wb"], ["b1"]), N("Add", ["b1", "bb"], ["b2"]),
        N("Sigmoid", ["b2"], ["burnout_probability"]),
        N("Mul", ["uz", "wf_row"], ["forecast_contributions"]),
        N("MatMul", ["uz", "wf"], ["f1"]), N("Add", ["f1", "bf"], ["f2"]),
        N("Relu", ["f2"], ["next_week_minutes"]),
        N("Max", ["goal", "g_lo"], ["g1"]), N("Min", ["g1", "g_hi"], ["g2"]),
        N("Sub", ["g2", "g_mu"], ["g3"]), N("Div", ["g3", "g_sd"], ["gz"]),
        N("Mul", ["gz", "wg_row"], ["goal_contributions"]),
        N("MatMul", ["gz", "wg"], ["q1"]), N("Add", ["q1", "bg"], ["q2"]),
        N("Sigmoid", ["q2"], ["goal_on_time_probability"]),
    ]
    f = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("user", f, ["N", nu]),
              helper.make_tensor_value_info("goal", f, ["G", ng])]
    outputs = [helper.make_tensor_value_info("burnout_probability", f, ["N", 1]),
               helper.make_tensor_value_info("burnout_contributions", f, ["N", nu]),
               helper.make_tensor_value_info("next_week_minutes", f, ["N", 1]),
               helper.make_tensor_value_info("forecast_contributions", f, ["N", nu]),
               helper.make_tensor_value_info("goal_on_time_probability", f, ["G", 1]),
               helper.make_tensor_value_info("goal_contributions", f, ["G", ng])]
    g = helper.make_graph(nodes, "insights", inputs, outputs, init)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="friend/models/train.py")
    m.ir_version = 8
    m.doc_string = f"{NAME} {VERSION}"
    onnx.checker.check_model(m)
    return m


def fixtures(path, X, G, rng):
    """Rows (held-out and extreme) with onnxruntime's outputs, for the server's parity test."""
    sess = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    ui = rng.choice(len(X), 12, replace=False)
    gi = rng.choice(len(G), 12, replace=False)
    users = [list(map(float, X[i])) for i in ui]
    users.append([s[2] for s in USER_FEATURES]); users.append([s[3] for s in USER_FEATURES])
    goals = [list(map(float, G[i])) for i in gi]
    goals.append([s[2] for s in GOAL_FEATURES]); goals.append([s[3] for s in GOAL_FEATURES])
    u = np.array(users, dtype=np.float32); g = np.array(goals, dtype=np.float32)
    names = [o.name for o in sess.get_outputs()]
    out = dict(zip(names, sess.run(None, {"user": u, "goal": g})))
    return {"onnxruntime": onnxruntime.__version__, "user": u.tolist(), "goal": g.tolist(),
            "outputs": {k: v.tolist() for k, v in out.items()}}


def feature_cases(rng, n=4):
    """Simulated students' logs with the features computed here, so the server's feature code is
    checked against this file's (the same definitions, in Rust)."""
    sim = simulate(n, rng)
    end = BASELINE + WINDOW
    today = datetime.date(2026, 12, 7)
    cases = []
    for i in range(n):
        dates = [today - datetime.timedelta(days=end - t) for t in range(end)]
        weekday = np.array([d.weekday() for d in dates] + [0] * (sim["study"].shape[1] - end))
        a = {k: sim[k][i] for k in ("study", "sessions", "late", "logged", "sleep", "mood")}
        x = user_features(a["study"], a["sessions"], a["late"], a["logged"], a["sleep"], a["mood"], weekday, end)
        days = []
        for t in range(end):
            if a["logged"][t]:
                days.append({"date": dates[t].isoformat(), "minutes": int(a["study"][t]), "sessions": int(a["sessions"][t]),
                             "late": int(a["late"][t]),
                             "sleep": None if np.isnan(a["sleep"][t]) else float(a["sleep"][t]),
                             "mood": None if np.isnan(a["mood"][t]) else int(a["mood"][t])})
        cases.append({"today": today.isoformat(), "days": days, "features": [float(v) for v in x]})
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="JSON Lines from `friend insights export-training-data` (default: synthetic cohort)")
    ap.add_argument("--students", type=int, default=12000, help="size of the synthetic cohort")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)), help="output directory")
    ap.add_argument("--seed", type=int, default=SEED)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    if a.data:
        rows = file_rows(a.data)
        trained_on = f"this school's own pseudonymised logs ({len(rows[0])} student-weeks, {len(rows[3])} goals)"
    else:
        rows = synthetic_rows(a.students, rng)
        trained_on = f"a synthetic cohort of {a.students} simulated students (seed {a.seed}); no real student data"
    params, metrics = fit(*rows, rng)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "insights.onnx")
    onnx.save(graph(params), path)
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    fx = fixtures(path, clip(rows[0], USER_FEATURES), clip(rows[3], GOAL_FEATURES), rng)
    fx["feature_cases"] = feature_cases(np.random.default_rng(a.seed + 1))
    with open(os.path.join(a.out, "fixtures.json"), "w") as f:
        json.dump(fx, f)
        f.write("\n")
    meta = {"name": NAME, "version": VERSION, "trained_on": trained_on, "sha256": sha,
            "user_features": [{"name": n, "unit": u, "min": lo, "max": hi} for n, u, lo, hi in USER_FEATURES],
            "goal_features": [{"name": n, "unit": u, "min": lo, "max": hi} for n, u, lo, hi in GOAL_FEATURES],
            "metrics": metrics}
    with open(os.path.join(a.out, "insights.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(json.dumps({"sha256": sha, "bytes": os.path.getsize(path), **metrics}, indent=2))


if __name__ == "__main__":
    main()

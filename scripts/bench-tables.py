#!/usr/bin/env python3
"""The tables of docs/benchmarks.md ("Against the best-tuned alternatives") from the JSON report.

Usage: scripts/bench-tables.py /tmp/redash-autoscaler-baselines/report.json
(scripts/bench-baselines.sh writes that file). Prints Markdown: the means over the seeds of the
rows that matter, then the goals seed by seed. Nothing here computes a figure the report does
not hold; it only averages and lays out.
"""
import json
import sys


def seconds(value):
    if value >= 600:
        return f"{round(value / 60)} min"
    if value >= 10:
        return f"{round(value)} s"
    return f"{int(value * 10) / 10} s"


def mean(values):
    return sum(values) / len(values) if values else 0.0


def row_means(rows):
    return {
        "p50": mean([r["adhoc"]["p50"] for r in rows]),
        "p95": mean([r["adhoc"]["p95"] for r in rows]),
        "p99": mean([r["adhoc"]["p99"] for r in rows]),
        "max": mean([r["adhoc"]["max"] for r in rows]),
        "sched95": mean([r["scheduled"]["p95"] for r in rows]),
        "hours": mean([r["taskHours"] for r in rows]),
        "cost": mean([r["cost"] for r in rows]),
        "killed": sum(r["killed"] for r in rows),
        "actions": mean([r["actions"] for r in rows]),
    }


def rows_where(scenario, predicate):
    found = []
    for seed in scenario["seeds"]:
        matches = [row for row in seed["rows"] if predicate(row)]
        if matches:
            found.append(matches[0])
    return found


def main(path):
    with open(path) as handle:
        report = json.load(handle)
    print("| scenario | autoscaler | adhoc p50 | p95 | p99 | max | scheduled p95 | task-hours | cost | killed | actions |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    picks = []
    for scenario in report["scenarios"]:
        best = scenario.get("bestTuned")
        plain = [t["lowestWaitWithinOurCost"] for t in scenario["tuning"]
                 if "self-protecting" not in t["family"] and t.get("lowestWaitWithinOurCost")]
        plain_best = min(plain, key=lambda p: (p["mean"]["adhocP95"], p["mean"]["scheduledP95"], p["mean"]["cost"])) if plain else None
        lines = [
            ("**redash-autoscaler**", lambda r: r["role"] == "ours"),
            ("reactive oracle", lambda r: r["role"] == "reactiveOracle"),
            ("clairvoyant floor", lambda r: r["role"] == "floor"),
        ]
        if best:
            lines.append((f"best tuned: {best['family']}",
                          lambda r, f=best["family"]: r["role"] == "tunedForWait" and r.get("family") == f))
        if plain_best and (not best or plain_best["family"] != best["family"]):
            lines.append((f"best tuned without self-protection: {plain_best['family']}",
                          lambda r, f=plain_best["family"]: r["role"] == "tunedForWait" and r.get("family") == f))
        lines.append(("target tracking CPU 70 % (defaults)", lambda r: r["autoscaler"] == "target tracking, CPU 70 % (defaults)"))
        for index, (name, predicate) in enumerate(lines):
            figures = row_means(rows_where(scenario, predicate))
            print(f"| {scenario['scenario'] if index == 0 else ''} | {name} | {seconds(figures['p50'])} | {seconds(figures['p95'])} "
                  f"| {seconds(figures['p99'])} | {seconds(figures['max'])} | {seconds(figures['sched95'])} "
                  f"| {figures['hours']:.1f} | ${figures['cost']:.2f} | {figures['killed']} | {round(figures['actions'])} |")
        picks.append((scenario["scenario"], best, plain_best))

    print()
    print("| scenario | best tuned baseline | best tuned without self-protection |")
    print("|---|---|---|")
    for name, best, plain_best in picks:
        describe = lambda p: f"{p['family']}: {p['setting']}" if p else "none fits our cost"
        print(f"| {name} | {describe(best)} | {describe(plain_best)} |")

    print()
    print("| scenario | ours p95, seeds (s) | reactive oracle p95 (s) | cost vs oracle | killed | goal 1 met | best tuned p95 (s) | goal 2 met |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario in report["scenarios"]:
        ours = rows_where(scenario, lambda r: r["role"] == "ours")
        oracle = rows_where(scenario, lambda r: r["role"] == "reactiveOracle")
        best = scenario.get("bestTuned")
        tuned = rows_where(scenario, lambda r, f=(best or {}).get("family"): r["role"] == "tunedForWait" and r.get("family") == f)
        goals = scenario["goals"]
        first = [g for g in goals if "oracle" in g["goal"]]
        second = [g for g in goals if "best tuned" in g["goal"]]
        def waits(rows):
            return ", ".join(f"{r['adhoc']['p95']:.1f}".rstrip("0").rstrip(".") for r in rows) or "-"
        costs = ", ".join(f"{(o['cost'] / r['cost'] - 1) * 100:+.1f} %" for o, r in zip(ours, oracle))
        print(f"| {scenario['scenario']} | {waits(ours)} | {waits(oracle)} | {costs} | {sum(r['killed'] for r in ours)} "
              f"| {sum(g['isMet'] for g in first)} of {len(first)} | {waits(tuned)} | {sum(g['isMet'] for g in second)} of {len(second)} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/bench-tables.py REPORT.json")
    main(sys.argv[1])

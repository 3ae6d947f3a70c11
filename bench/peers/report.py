"""Turns run.py's results into tables, a chart (docs/img/peers.png) and the results
section of docs/benchmarks.md (between the ``results:start``/``results:end``
markers; the rest of the page is written by hand and left as it is)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

START = "<!-- results:start (written by bench/peers/run.py) -->"
END = "<!-- results:end -->"


def summary(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per contender: medians over the rounds, fastest first (Syncline first)."""
    rows = []
    cold = results["cold_start"]
    for name, runs in results["throughput"].items():
        rates = [r["records_per_second"] for r in runs]
        info = results["contenders"][name]
        rows.append({
            "name": name, "label": info["label"], "validation": info["validation"],
            "rate": statistics.median(rates), "low": min(rates), "high": max(rates),
            "rss": statistics.median(r["peak_rss_mb"] for r in runs),
            "seconds": statistics.median(r["seconds"] for r in runs),
            "cold": cold.get(name.split(":")[0]),
        })  # fmt: skip
    rows.sort(key=lambda r: (r["name"] != "syncline", -r["rate"]))
    return rows


def targets(rows: list[dict[str, Any]]) -> list[str]:
    syncline = next((r for r in rows if r["name"] == "syncline"), None)
    off = [r for r in rows if r["name"] != "syncline" and r["validation"] == "off"]
    on = [r for r in rows if r["name"] != "syncline" and r["validation"] == "on"]
    if syncline is None or not off or not on:
        return [
            "Targets not evaluated: Syncline and peers with validation on and off must all run."
        ]
    fastest = max(off, key=lambda r: r["rate"])
    ratio_off = syncline["rate"] / fastest["rate"]
    slowest_ratio = min(syncline["rate"] / r["rate"] for r in on)
    closest = max(on, key=lambda r: r["rate"])
    return [
        f"- **Syncline (validation on) ≥ 2× the fastest peer with validation off** "
        f"({fastest['name']}, {fastest['rate']:,.0f} records/s): Syncline is "
        f"**{ratio_off:.2f}×** — **{'met' if ratio_off >= 2 else 'not met'}**.",
        f"- **Syncline > 5× every peer with validation on** (closest: {closest['name']}, "
        f"{closest['rate']:,.0f} records/s): Syncline is **{slowest_ratio:.2f}×** — "
        f"**{'met' if slowest_ratio > 5 else 'not met'}**.",
    ]


def chart(rows: list[dict[str, Any]], path: Path, records: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in rows][::-1]
    rates = [r["rate"] for r in rows][::-1]
    errors = [
        [r["rate"] - r["low"] for r in rows][::-1],
        [r["high"] - r["rate"] for r in rows][::-1],
    ]
    colours = ["#d1495b" if n == "syncline" else ("#66a182" if n.endswith(":off") else "#2e4057")
               for n in names]  # fmt: skip
    figure, axes = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.4))
    axes.barh(names, rates, xerr=errors, color=colours, capsize=3)
    highs = [r["high"] for r in rows][::-1]
    for y, (rate, high) in enumerate(zip(rates, highs, strict=True)):
        axes.text(high, y, f"  {rate:,.0f}", va="center", fontsize=8)
    axes.set_xlabel("records/s (median, whole process incl. cold start; whiskers: min–max)")
    axes.set_title(f"{records:,} records of 25 properties → JSONL, same local API")
    axes.set_xlim(0, max(highs) * 1.2)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def section(results: dict[str, Any]) -> str:
    rows = summary(results)
    syncline = next((r for r in rows if r["name"] == "syncline"), None)
    load_s, load_e = results["load_start"], results["load_end"]
    out = [
        START, "",
        f"Run {results['started']} on {results['machine']}: `{results['command'].strip()}` — "
        f"{results['records']:,} records, {results['repeat']} interleaved rounds. Load average "
        f"(1/5/15 min) at start {load_s[0]:.2f}/{load_s[1]:.2f}/{load_s[2]:.2f}, at end "
        f"{load_e[0]:.2f}/{load_e[1]:.2f}/{load_e[2]:.2f}; the machine is shared with other work, "
        "so the numbers are medians and the spread is shown.", "",
        "![records/s per contender](img/peers.png)", "",
        "| contender | validation | records/s (median) | min–max | Syncline ÷ this | peak RSS (MB) "
        "| `--help` cold start (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]  # fmt: skip
    for r in rows:
        ratio = f"{syncline['rate'] / r['rate']:.2f}×" if syncline else "–"
        cold = f"{r['cold']:.2f}" if r["cold"] is not None else "–"
        out.append(f"| `{r['name']}` — {r['label']} | {r['validation']} | {r['rate']:,.0f} | "
                   f"{r['low']:,.0f}–{r['high']:,.0f} | {ratio} | {r['rss']:.0f} | {cold} |")  # fmt: skip
    out += ["", "Every run's output held exactly the expected IDs, once each (checked after each run).",
            "", "Targets:", "", *targets(rows), ""]  # fmt: skip
    if results["incremental"]:
        out += ["Incremental rerun after 1% of the records changed (wall time of the rerun, "
                "cold start included):", "",
                "| contender | rerun (s) | records read | changed | changed IDs missing |",
                "| --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
        for name, r in results["incremental"].items():
            out.append(f"| {name} | {r['seconds']:.2f} | {r['read']:,} | {r['changed']:,} | "
                       f"{r['missing']} |")  # fmt: skip
        out.append("")
    if results["resume"]:
        out += ["Resume after SIGKILL of the whole run (source and destination processes) at half "
                "its median run time, then a rerun from the state it had persisted:", "",
                "| contender | killed at (s) | written before kill | rerun (s) | rerun exit | "
                "lines | distinct IDs | duplicates | missing |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
        for name, r in results["resume"].items():
            out.append(f"| {name} | {r['killed_at_seconds']:.1f} | {r['records_before_kill']:,} | "
                       f"{r['rerun_seconds']:.1f} | {r['rerun_code']} | {r['lines']:,} | "
                       f"{r['distinct']:,} | {r['duplicates']:,} | {r['missing']:,} |")  # fmt: skip
        out.append("")
    out.append(END)
    return "\n".join(out)


def write_report(results: dict[str, Any], root: Path) -> None:
    rows = summary(results)
    chart(rows, root / "docs" / "img" / "peers.png", results["records"])
    doc = root / "docs" / "benchmarks.md"
    text = doc.read_text()
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    doc.write_text(head + section(results) + tail)
    print("wrote docs/benchmarks.md and docs/img/peers.png", flush=True)

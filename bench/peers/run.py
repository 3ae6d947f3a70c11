"""Syncline against Airbyte CDK, Singer SDK and dlt on the same local paginated API.

    python bench/peers/run.py [--records 200000] [--repeat 3] [--only syncline,dlt]

Creates ``bench/peers/.venv`` (the peers and matplotlib, never in Syncline's
environment) if missing and re-runs itself with it. Starts the benchmark API
(bench/peers/server.py, in a separate process with Syncline's interpreter), then:

1. **throughput** — every contender reads all records (25 properties, pages of
   1,000) into JSONL, ``--repeat`` times, interleaved round-robin with the
   order rotated each round; wall time of the whole process tree from spawn to
   exit (cold start included), peak RSS of the tree (psutil, every 50 ms). After
   each run the JSONL output must hold exactly the IDs ``u0 … u{N-1}``, once;
2. **cold start** — median wall time of each tool's CLI ``--help``;
3. **incremental** — from the state of each contender's last throughput run,
   1% of the records change on the server, then the timed rerun; it must return
   every changed ID;
4. **resume** — a first run SIGKILLed (whole process group) at half its median
   throughput-run time, then rerun from whatever state it persisted; the output
   is counted for missing and duplicate IDs.

Results go to bench/peers/results.json, docs/img/peers.png and the results
section of docs/benchmarks.md. The machine may be shared: medians, and
the load average at start and end, are recorded.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENV = HERE / ".venv"


def ensure_venv() -> None:
    """Re-run this script with the peers' virtualenv, creating it first if missing."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} (airbyte-cdk, singer-sdk, dlt, matplotlib)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(HERE / "requirements.txt")],
            check=True,
        )
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


ensure_venv()

import orjson  # noqa: E402
import psutil  # noqa: E402

sys.path.insert(0, str(HERE))
from contenders import SYNCLINE_PYTHON, Contender, contenders, environment  # noqa: E402
from report import write_report  # noqa: E402


class Server:
    """The benchmark API in its own process."""

    def __init__(self, records: int) -> None:
        if not SYNCLINE_PYTHON.exists():
            sys.exit(f"Syncline's virtualenv is missing: {SYNCLINE_PYTHON}; create it first")
        self.process = subprocess.Popen(
            [str(SYNCLINE_PYTHON), str(HERE / "server.py"), str(records)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            sys.exit("the benchmark API did not start; see its error above")

    def post(self, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.url + path, method="POST", data=b"")
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def run_tree(command: str, kill_after: float | None = None) -> dict[str, Any]:
    """Run ``command`` in its own process group; wall time, peak RSS, exit code."""
    began = time.perf_counter()
    process = subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", command], env=environment(), start_new_session=True
    )
    root = psutil.Process(process.pid)
    peak = 0
    killed = False
    while process.poll() is None:
        try:
            rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            peak = max(peak, rss)
        except psutil.Error:
            pass  # a process of the tree ended between listing and reading it
        if kill_after is not None and time.perf_counter() - began >= kill_after:
            os.killpg(process.pid, signal.SIGKILL)
            killed = True
            process.wait()
            reap_orphans()
            break
        # Waiting (not sleeping) until the next sample ends the clock when the
        # tree exits, not up to 50 ms later: that would weigh on short runs.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.05)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "peak_rss_mb": peak / 2**20, "code": process.returncode,
            "killed": killed}  # fmt: skip


def become_subreaper() -> None:
    """Adopt the orphans of the contenders' process trees, as a supervisor would.

    After a SIGKILL of a pipeline the processes under ``bash`` become orphans.
    Where the machine's PID 1 does not reap them promptly (a container whose
    init is not a reaper) they linger as zombies, and a zombie's PID still
    answers ``kill(pid, 0)`` — so a rerun would see its killed predecessor as
    alive. A real deployment runs under a reaping supervisor (systemd, tini);
    this makes the harness one (Linux ``PR_SET_CHILD_SUBREAPER``).
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def reap_orphans() -> None:
    """Reap the adopted processes of a killed tree (they die at once on SIGKILL)."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def read_ids(files: list[Path]) -> list[str]:
    ids: list[str] = []
    for path in files:
        if path.exists():
            with path.open("rb") as lines:
                ids.extend(orjson.loads(line)["id"] for line in lines if line.strip())
    return ids


def check_full(contender: Contender, work: Path, records: int) -> int:
    ids = read_ids(contender.outputs(work, "full"))
    expected = {f"u{i}" for i in range(records)}
    unique = set(ids)
    if len(ids) != records or unique != expected:
        raise SystemExit(
            f"{contender.name}: wrote {len(ids)} records, {len(unique)} distinct, "
            f"{len(expected - unique)} missing; output in {work}"
        )
    return len(ids)


def fail_run(contender: Contender, work: Path, result: dict[str, Any]) -> None:
    logs = "\n".join(p.read_text()[-3000:] for p in sorted(work.glob("*.err")))
    raise SystemExit(f"{contender.name} exited {result['code']}; work in {work}\n{logs}")


def throughput(chosen: list[Contender], server: Server, records: int, repeat: int,
               tmp: Path) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {c.name: [] for c in chosen}
    for rep in range(repeat):
        order = chosen[rep % len(chosen) :] + chosen[: rep % len(chosen)]
        for contender in order:
            work = tmp / contender.name.replace(":", "-")
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            result = run_tree(contender.build(work, server.url, "full"))
            if result["code"] != 0:
                fail_run(contender, work, result)
            result["records"] = check_full(contender, work, records)
            result["records_per_second"] = records / result["seconds"]
            runs[contender.name].append(result)
            print(f"  round {rep + 1} {contender.name:<16} {result['records_per_second']:>9,.0f} "
                  f"records/s  {result['seconds']:6.2f} s  peak RSS {result['peak_rss_mb']:5.0f} MB",
                  flush=True)  # fmt: skip
            if rep < repeat - 1:
                shutil.rmtree(work, ignore_errors=True)
            # else: the incremental phase reruns from this last full run's state.
    return runs


def cold_start(chosen: list[Contender], repeat: int = 5) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for contender in chosen:
        key = contender.name.split(":")[0]
        if key in seconds:
            continue
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            subprocess.run(contender.cli_help, env=environment(), capture_output=True, check=True)
            times.append(time.perf_counter() - began)
        seconds[key] = statistics.median(times)
        print(f"  cold start {key:<14} {seconds[key]:.2f} s", flush=True)
    return seconds


def incremental(chosen: list[Contender], server: Server, records: int,
                tmp: Path) -> dict[str, dict[str, Any]]:  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    for contender in chosen:
        if not contender.incremental:
            continue
        server.post("/_reset")
        work = tmp / contender.name.replace(":", "-")
        if not work.exists():  # no throughput run left its state: make a first run
            work.mkdir(parents=True)
            first = run_tree(contender.build(work, server.url, "full"))
            if first["code"] != 0:
                fail_run(contender, work, first)
        changed = server.post("/_change?fraction=0.01")["changed"]
        step = max(1, round(records / changed))
        expected = {f"u{i}" for i in range(0, records, step)}
        result = run_tree(contender.build(work, server.url, "incremental"))
        if result["code"] != 0:
            fail_run(contender, work, result)
        ids = read_ids(contender.outputs(work, "incremental"))
        result.update(changed=changed, read=len(ids), missing=len(expected - set(ids)))
        results[contender.name] = result
        print(f"  incremental {contender.name:<16} {result['seconds']:6.2f} s, {len(ids):,} records "
              f"for {changed:,} changed, {result['missing']} missing", flush=True)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
    server.post("/_reset")
    return results


def resume(chosen: list[Contender], server: Server, records: int, tmp: Path,
           medians: dict[str, float]) -> dict[str, dict[str, Any]]:  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    server.post("/_reset")
    for contender in chosen:
        if not contender.resume:
            continue
        work = tmp / ("resume-" + contender.name.replace(":", "-"))
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        kill_at = medians.get(contender.name, 4.0) / 2
        killed = run_tree(contender.build(work, server.url, "full"), kill_after=kill_at)
        before = len(set(read_ids(contender.outputs(work, "full"))))
        rerun = run_tree(contender.build(work, server.url, "resume"))
        error = ""
        if rerun["code"] != 0:
            error = " | ".join(p.read_text()[-400:] for p in sorted(work.glob("*.err")))
        ids = read_ids(contender.outputs(work, "full"))
        unique = set(ids)
        result = {
            "killed_at_seconds": kill_at, "was_killed": killed["killed"],
            "records_before_kill": before, "rerun_code": rerun["code"],
            "rerun_seconds": rerun["seconds"], "lines": len(ids), "distinct": len(unique),
            "duplicates": len(ids) - len(unique),
            "missing": len({f"u{i}" for i in range(records)} - unique),
            "rerun_error": error,
        }  # fmt: skip
        results[contender.name] = result
        print(f"  resume {contender.name:<16} killed at {kill_at:.1f} s with {before:,} written; "
              f"rerun {rerun['seconds']:.1f} s -> {len(unique):,} distinct, "
              f"{result['duplicates']:,} duplicates, {result['missing']:,} missing", flush=True)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="comma-separated contenders or prefixes (syncline,dlt:on)")
    parser.add_argument("--skip", default="", help="phases to skip: incremental,resume")
    parser.add_argument("--no-report", action="store_true", help="print only; write no files")
    args = parser.parse_args()
    chosen = contenders()
    if args.only:
        wanted = args.only.split(",")
        chosen = [
            c for c in chosen if any(c.name == w or c.name.startswith(w + ":") for w in wanted)
        ]
    skip = set(filter(None, args.skip.split(",")))
    become_subreaper()
    load_start = os.getloadavg()
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
               f"Python {platform.python_version()}")  # fmt: skip
    print(f"{machine}; load average {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}",
          flush=True)  # fmt: skip
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    server = Server(args.records)
    try:
        with tempfile.TemporaryDirectory(prefix="peers-") as name:
            tmp = Path(name)
            print(f"throughput: {args.records:,} records, {args.repeat} rounds", flush=True)
            runs = throughput(chosen, server, args.records, args.repeat, tmp)
            medians = {n: statistics.median(r["seconds"] for r in rs) for n, rs in runs.items()}
            cold = cold_start(chosen)
            results = report(args, chosen, machine, started, load_start, runs, cold, {}, {})
            inc = {} if "incremental" in skip else incremental(chosen, server, args.records, tmp)
            results = report(args, chosen, machine, started, load_start, runs, cold, inc, {})
            res = {} if "resume" in skip else resume(chosen, server, args.records, tmp, medians)
            results = report(args, chosen, machine, started, load_start, runs, cold, inc, res)
    finally:
        server.close()
    load_end = results["load_end"]
    print(f"load average at end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    if args.no_report:
        print(json.dumps(results, indent=2))


def report(args: argparse.Namespace, chosen: list[Contender], machine: str, started: str,
           load_start: tuple[float, float, float], runs: dict[str, Any], cold: dict[str, float],
           inc: dict[str, Any], res: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The results so far; written out after each phase, so a long run leaves them early."""
    load_end = os.getloadavg()
    results = {
        "started": started, "machine": machine, "records": args.records,
        "repeat": args.repeat, "load_start": load_start, "load_end": load_end,
        "command": "python bench/peers/run.py " + " ".join(sys.argv[1:]),
        "contenders": {c.name: {"label": c.label, "validation": c.validation, "knobs": c.knobs}
                       for c in chosen},
        "throughput": runs, "cold_start": cold, "incremental": inc, "resume": res,
    }  # fmt: skip
    if not args.no_report:
        (HERE / "results.json").write_text(json.dumps(results, indent=2))
        write_report(results, ROOT)
    return results


if __name__ == "__main__":
    main()

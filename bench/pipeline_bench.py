"""Benchmark of the whole local pipeline: cold (tuning with 3 trials) and cached re-run, with a per-step breakdown,
with independent steps one at a time (the baseline: a straightforward engine) and in parallel (the engine's default).

    python bench/pipeline_bench.py            # writes bench/results/pipeline.json and prints a table

Targets on 2 cores: cold < 90 s, cached re-run < 10 s. Each run starts a fresh `workbook run` process (as a learner
does), in a temporary store, so the numbers include start-up and the definition build. The image environments are
built before the first timed run (they are cached across runs, as after a learner's first run).
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PARAMS = ["--param", "UseTuning=true", "--param", "MaxTuningJobs=3"]
TARGETS = {"cold": 90.0, "cached": 10.0}


MODES = {"one at a time": "1", "parallel": "0"}  # WORKBOOK_MAX_PARALLEL_STEPS (0: the engine's default, one per core)


def _run(store: Path, parallel: str = "0") -> tuple[float, dict]:
    "One `workbook run` in `store`: wall time and the execution record."
    env = {**os.environ, "WORKBOOK_STORE": str(store), "SAGEMAKER_SUPPRESS_V2_WARNING": "1", "WORKBOOK_MAX_PARALLEL_STEPS": parallel}
    start = time.perf_counter()
    r = subprocess.run([str(Path(sys.executable).parent / "workbook"), "run", *PARAMS], env=env, cwd=ROOT,
                       capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if r.returncode: sys.exit(f"workbook run failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    record = max((store / "executions").glob("*/*/execution.json"), key=lambda p: p.stat().st_mtime)
    return seconds, json.loads(record.read_text())


def _steps(record: dict) -> dict:
    "Seconds per step (and whether it was a cache hit)."
    from datetime import datetime
    def secs(s):
        if not (s.get("StartTime") and s.get("EndTime")): return None
        return (datetime.fromisoformat(s["EndTime"]) - datetime.fromisoformat(s["StartTime"])).total_seconds()
    return {s["StepName"]: {"seconds": secs(s), "cached": bool(s.get("CacheHitResult")), "status": s["StepStatus"]}
            for s in record["Steps"]}


def _measure(parallel: str) -> dict:
    "Cold then cached run in a fresh store."
    with tempfile.TemporaryDirectory() as d:
        store = Path(d) / "store"
        cold, cold_record = _run(store, parallel)
        cached, cached_record = _run(store, parallel)
    return {"cold_seconds": round(cold, 2), "cached_seconds": round(cached, 2), "speedup_cached_vs_cold": round(cold / cached, 1),
            "met": {"cold": cold < TARGETS["cold"], "cached": cached < TARGETS["cached"]},
            "cold_steps": _steps(cold_record), "cached_steps": _steps(cached_record)}


def main():
    with tempfile.TemporaryDirectory() as d:  # build the image environments once, untimed
        _run(Path(d) / "store")
    runs = {mode: _measure(value) for mode, value in MODES.items()}
    result = {"parameters": PARAMS[1::2], "cpus": os.cpu_count(), "targets_seconds": TARGETS, "runs": runs,
              "cold_speedup_parallel_vs_one_at_a_time": round(runs["one at a time"]["cold_seconds"] / runs["parallel"]["cold_seconds"], 2)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(result, indent=2))
    fmt = lambda v: "-" if v is None else f"{v:.1f}"
    print(f"{'steps':<14} {'run':<8} {'seconds':>8} {'target':>8}  met")
    for mode, r in runs.items():
        for run in ("cold", "cached"):
            print(f"{mode:<14} {run:<8} {r[run + '_seconds']:>8.1f} {TARGETS[run]:>8.0f}  {'yes' if r['met'][run] else 'NO'}")
    print(f"cold run, parallel vs one at a time: {result['cold_speedup_parallel_vs_one_at_a_time']}x\n")
    print(f"{'step':<28} {'cold s (1 at a time)':>20} {'cold s (parallel)':>18} {'cached s':>9}  cache hit")
    for name, step in runs["parallel"]["cold_steps"].items():
        seq = runs["one at a time"]["cold_steps"].get(name, {})
        again = runs["parallel"]["cached_steps"].get(name, {})
        print(f"{name:<28} {fmt(seq.get('seconds')):>20} {fmt(step['seconds']):>18} {fmt(again.get('seconds')):>9}  {'yes' if again.get('cached') else ''}")
    print(f"\nwrote {RESULTS / 'pipeline.json'}")


if __name__ == "__main__":
    main()

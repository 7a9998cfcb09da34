"""Benchmark of the whole local pipeline: cold (tuning with 3 trials) and cached re-run, with a per-step breakdown.

    python bench/pipeline_bench.py            # writes bench/results/pipeline.json and prints a table

Targets on 2 cores: cold < 90 s, cached re-run < 10 s. Each run starts a fresh `workbook run` process (as a learner
does), in a temporary store, so the numbers include start-up and the definition build.
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


def _run(store: Path) -> tuple[float, dict]:
    "One `workbook run` in `store`: wall time and the execution record."
    env = {**os.environ, "WORKBOOK_STORE": str(store), "SAGEMAKER_SUPPRESS_V2_WARNING": "1"}
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


def main():
    with tempfile.TemporaryDirectory() as d:
        store = Path(d) / "store"
        cold, cold_record = _run(store)
        cached, cached_record = _run(store)
    result = {"parameters": PARAMS[1::2], "cpus": os.cpu_count(),
              "cold_seconds": round(cold, 2), "cached_seconds": round(cached, 2),
              "speedup_cached_vs_cold": round(cold / cached, 1),
              "targets_seconds": TARGETS,
              "met": {"cold": cold < TARGETS["cold"], "cached": cached < TARGETS["cached"]},
              "cold_steps": _steps(cold_record), "cached_steps": _steps(cached_record)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(result, indent=2))
    print(f"{'run':<8} {'seconds':>8} {'target':>8}  met")
    for run in ("cold", "cached"):
        print(f"{run:<8} {result[run + '_seconds']:>8.1f} {TARGETS[run]:>8.0f}  {'yes' if result['met'][run] else 'NO'}")
    print(f"cached re-run is {result['speedup_cached_vs_cold']}x faster than cold\n")
    print(f"{'step':<28} {'cold s':>8} {'cached s':>9}  cache hit")
    for name, step in result["cold_steps"].items():
        again = result["cached_steps"].get(name, {})
        fmt = lambda v: "-" if v is None else f"{v:.1f}"
        print(f"{name:<28} {fmt(step['seconds']):>8} {fmt(again.get('seconds')):>9}  {'yes' if again.get('cached') else ''}")
    print(f"\nwrote {RESULTS / 'pipeline.json'}")


if __name__ == "__main__":
    main()

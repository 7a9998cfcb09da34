"""Benchmark of the whole local pipeline: cold (tuning with 3 trials) and cached re-run, with a per-step breakdown,
with independent steps one at a time (the baseline: a straightforward engine) and in parallel (the engine's default);
then the untuned pipeline (`make run`'s) cold, with where its TrainModel step's time goes.

    python bench/pipeline_bench.py            # writes bench/results/pipeline.json and prints a table

Targets on 2 cores: tuned cold < 50 s, cached re-run < 5 s, untuned cold < 35 s, and TrainModel's time beyond the
TensorFlow import < 3 s. Each run starts a fresh `workbook run` process (as a learner does), in a temporary store, so
the numbers include start-up, the definition build and creating the MLflow store. The image environments are built
before the first timed run (they are cached across runs, as after a learner's first run).
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
TARGETS = {"cold": 50.0, "cached": 5.0, "untuned_cold": 35.0, "train_step_beyond_tensorflow_import": 3.0}


MODES = {"one at a time": "1", "parallel": "0"}  # WORKBOOK_MAX_PARALLEL_STEPS (0: the engine's default, one per core)


def _run(store: Path, parallel: str = "0", params: list = PARAMS) -> tuple[float, dict]:
    "One `workbook run` in `store`: wall time and the execution record."
    env = {**os.environ, "WORKBOOK_STORE": str(store), "SAGEMAKER_SUPPRESS_V2_WARNING": "1", "WORKBOOK_MAX_PARALLEL_STEPS": parallel}
    start = time.perf_counter()
    r = subprocess.run([str(Path(sys.executable).parent / "workbook"), "run", *params], env=env, cwd=ROOT,
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


def _log_time(line: str) -> float | None:
    "Epoch seconds of a toolkit log line (`2026-12-01 08:20:08,385 sagemaker-training-toolkit ...`), else None."
    from datetime import datetime, timezone
    try: return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=timezone.utc).timestamp()
    except ValueError: return None


def _train_breakdown(store: Path, record: dict) -> dict:
    "Where the TrainModel step's seconds went: the engine, the toolkit, installing requirements.txt, the script's phases."
    from datetime import datetime
    step = next(s for s in record["Steps"] if s["StepName"] == "TrainModel")
    start, end = (datetime.fromisoformat(step[k]).timestamp() for k in ("StartTime", "EndTime"))
    log = next((store / "executions").glob("*/*/logs/*train*.log")).read_text().splitlines()
    at = lambda text: next(_log_time(l) for l in log if text in l and _log_time(l) is not None)
    installing, invoking, success = at("Installing dependencies"), at("Invoking user script"), at("Reporting training SUCCESS")
    phases = dict(kv.split("=") for kv in next(l for l in log if l.startswith("timings ")).split()[1:])
    script = {k: float(v) for k, v in phases.items()}
    out = {"job start (engine, process, toolkit)": installing - start, "installing requirements.txt": invoking - installing,
           **{f"script: {k}": v for k, v in script.items()},
           "script: start-up and the rest": (success - invoking) - sum(script.values()), "job end (model.tar.gz, outputs)": end - success}
    out = {k: round(v, 2) for k, v in out.items()}
    return {"step_seconds": round(end - start, 2), "phases": out,
            "beyond_tensorflow_import": round(end - start - script["import_tensorflow"], 2)}


def _untuned() -> dict:
    "The untuned pipeline (`make run`) cold, steps in parallel, with the TrainModel breakdown."
    with tempfile.TemporaryDirectory() as d:
        store = Path(d) / "store"
        seconds, record = _run(store, "0", [])
        return {"cold_seconds": round(seconds, 2), "steps": _steps(record), "train": _train_breakdown(store, record)}


def main():
    with tempfile.TemporaryDirectory() as d:  # build the image environments once, untimed
        _run(Path(d) / "store")
    runs = {mode: _measure(value) for mode, value in MODES.items()}
    untuned = _untuned()
    met = {"untuned_cold": untuned["cold_seconds"] < TARGETS["untuned_cold"],
           "train_step_beyond_tensorflow_import": untuned["train"]["beyond_tensorflow_import"] < TARGETS["train_step_beyond_tensorflow_import"]}
    result = {"parameters": PARAMS[1::2], "cpus": os.cpu_count(), "targets_seconds": TARGETS, "runs": runs,
              "cold_speedup_parallel_vs_one_at_a_time": round(runs["one at a time"]["cold_seconds"] / runs["parallel"]["cold_seconds"], 2),
              "untuned": {**untuned, "met": met}}
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
    print(f"\nuntuned pipeline (make run), cold: {untuned['cold_seconds']:.1f} s (target {TARGETS['untuned_cold']:.0f}): "
          f"{'yes' if met['untuned_cold'] else 'NO'}")
    train = untuned["train"]
    print(f"its TrainModel step: {train['step_seconds']:.1f} s, {train['beyond_tensorflow_import']:.1f} s beyond the TensorFlow import "
          f"(target {TARGETS['train_step_beyond_tensorflow_import']:.0f}): {'yes' if met['train_step_beyond_tensorflow_import'] else 'NO'}")
    for phase, seconds in train["phases"].items(): print(f"  {phase:<40} {seconds:>6.2f} s")
    print(f"\nwrote {RESULTS / 'pipeline.json'}")


if __name__ == "__main__":
    main()

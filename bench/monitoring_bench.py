"""Monitoring benchmark: our streaming data-quality run against a straightforward pandas implementation.

    python bench/monitoring_bench.py                  # 1,000,000 captured records (or: make bench)
    python bench/monitoring_bench.py --records 100000

Generates N data-capture records (SageMaker's JSONL layout, one CSV request of the six raw features each, hourly
folders) and a baseline in a temporary folder, then runs, each alone in its own subprocess:
- baseline: `pd.read_json(lines=True)` on every capture file, the requests through `pd.read_csv`, then `describe`;
- ours: `workbook.monitoring.run_data_quality` (statistics.json + constraint_violations.json against the baseline).
Wall time and peak RSS (from `os.wait4`'s rusage) of each subprocess; both compute the mean of every numeric feature,
and the two must agree. Writes bench/results/monitoring.json and prints a table with the ratio.
Targets for ours: >= 4x faster than the baseline and < 0.5 GiB peak RSS.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from measured import measured_run

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "monitoring.json"
TARGET_SPEEDUP, TARGET_RSS_GIB = 4.0, 0.5
RECORDS_PER_FILE = 5000


def generate(folder: Path, n: int, seed: int = 0) -> dict:
    "Write a baseline and `n` capture records (24 hourly folders) under `folder`."
    import numpy as np
    import pandas as pd
    from workbook.config import DATA_FILE, FEATURES, NUMERIC_FEATURES
    from workbook.monitoring import capture_record, suggest_baseline, write_capture
    table = pd.read_csv(DATA_FILE).dropna(subset=FEATURES)[FEATURES].reset_index(drop=True)
    suggest_baseline(table, folder / "baseline")
    rng = np.random.default_rng(seed)
    rows = table.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    for c in NUMERIC_FEATURES:  # jitter the measurements so values are not all repeats
        noise = rng.normal(0, rows[c].std() * 0.05, n)
        rows[c] = (rows[c] + noise).round(1 if c.startswith("culmen") else 0)
    for c in ("flipper_length_mm", "body_mass_g"): rows[c] = rows[c].astype(int)
    lines = rows.to_csv(header=False, index=False).splitlines()
    output = json.dumps({"predictions": [{"species": "Adelie", "probabilities": {"Adelie": 0.9, "Chinstrap": 0.05, "Gentoo": 0.05}}]})
    from datetime import datetime, timedelta, timezone
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    step = timedelta(hours=24) / n
    records = (capture_record(line + "\n", output, t0 + i * step, event_id=f"{i:08d}-0000-4000-8000-000000000000") for i, line in enumerate(lines))
    files = write_capture(records, folder / "capture", records_per_file=RECORDS_PER_FILE)
    return {"records": n, "files": len(files), "bytes": sum(f.stat().st_size for f in files)}


def run_ours(folder: Path) -> dict:
    "Our data-quality run; returns the numeric means for the cross-check."
    from workbook.monitoring import run_data_quality
    summary = run_data_quality(folder / "baseline", folder / "capture", folder / "ours")
    stats = json.loads((folder / "ours" / "statistics.json").read_text())
    means = {f["name"]: f["numerical_statistics"]["mean"] for f in stats["features"] if "numerical_statistics" in f}
    return {"rows": summary["rows"], "violations": summary["violations"], "means": means}


def run_pandas(folder: Path) -> dict:
    "The straightforward implementation: read_json(lines=True), the inputs through read_csv, describe."
    import io
    import pandas as pd
    from workbook.config import FEATURES
    files = sorted((folder / "capture").rglob("*.jsonl"))
    df = pd.concat([pd.read_json(f, lines=True) for f in files], ignore_index=True)
    inputs = "".join(d["endpointInput"]["data"] for d in df["captureData"])
    features = pd.read_csv(io.StringIO(inputs), header=None, names=FEATURES)
    described = features.describe(include="all")
    means = {c: float(described.loc["mean", c]) for c in features.columns if pd.api.types.is_numeric_dtype(features[c])}
    return {"rows": len(features), "means": means}


def measure(kind: str, folder: Path) -> dict:
    "Run one implementation in a subprocess; wall time, its own peak RSS, and what it printed."
    return measured_run(Path(__file__), kind, folder)


def child(kind: str, folder: Path):
    "Inside the subprocess: run and print the result as one JSON line."
    start = time.perf_counter()
    result = run_ours(folder) if kind == "ours" else run_pandas(folder)
    print(json.dumps(result | {"work_seconds": time.perf_counter() - start}), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="captured records to generate (default 1,000,000)")
    parser.add_argument("--run", choices=["ours", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run: return child(args.run, args.folder) or 0
    sys.path.insert(0, str(ROOT / "code"))
    with tempfile.TemporaryDirectory(prefix="monitoring-bench-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        data = generate(folder, args.records)
        print(f"generated {data['records']:,} records in {data['files']} files ({data['bytes'] / 2**20:.0f} MiB) in {time.perf_counter() - start:.0f} s", flush=True)
        os.sync()  # both runs read from the page cache, and neither pays for writing the generated files back
        for f in (folder / "capture").rglob("*.jsonl"): f.read_bytes()
        ours = measure("ours", folder)
        baseline = measure("pandas", folder)
    agree = ours["rows"] == baseline["rows"] and all(abs(ours["means"][c] - baseline["means"][c]) <= 1e-9 * max(1, abs(baseline["means"][c])) for c in baseline["means"])
    speedup = baseline["seconds"] / ours["seconds"]
    result = {"records": data["records"], "files": data["files"], "capture_mib": round(data["bytes"] / 2**20, 1), "cpus": os.cpu_count(),
              "pandas": baseline, "ours": ours, "speedup": round(speedup, 2), "work_speedup": round(baseline["work_seconds"] / ours["work_seconds"], 2),
              "cpu_speedup": round(baseline["cpu_seconds"] / ours["cpu_seconds"], 2), "load_average": os.getloadavg(),
              "results_agree": agree, "targets": {"speedup": TARGET_SPEEDUP, "peak_rss_gib": TARGET_RSS_GIB},
              "passed": bool(agree and speedup >= TARGET_SPEEDUP and ours["peak_rss_mib"] < TARGET_RSS_GIB * 1024)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    from workbook.config import text_table
    rows = [("", "wall s", "work s", "CPU s", "peak RSS MiB")]
    rows += [(name, f"{r['seconds']:.2f}", f"{r['work_seconds']:.2f}", f"{r['cpu_seconds']:.2f}", f"{r['peak_rss_mib']:.0f}")
             for name, r in (("pandas read_json+describe", baseline), ("ours run_data_quality", ours))]
    print("\n" + text_table(rows, right=(1, 2, 3, 4)))
    print(f"\nspeedup {speedup:.1f}x wall ({result['work_speedup']:.1f}x work, {result['cpu_speedup']:.1f}x CPU; target >= {TARGET_SPEEDUP:.0f}x), "
          f"ours peak RSS {ours['peak_rss_mib'] / 1024:.2f} GiB (target < {TARGET_RSS_GIB} GiB), means agree: {agree}")
    print(f"{'PASS' if result['passed'] else 'FAIL'}; results: {RESULTS}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

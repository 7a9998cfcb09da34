"""Feature store benchmark: ingesting into the local feature group and building a point-in-time training set, ours
against a straightforward implementation.

    python bench/feature_store_bench.py                  # 1,000,000 records (or: make bench)
    python bench/feature_store_bench.py --records 100000

Generates N penguin feature records (`workbook.features.engineer_features` on the bundled table, resampled with
jitter): N/4 penguins measured on four days, one ingestion a day (event times spread over the day's 24 hours, written
at the end of the day). Then runs, each alone in its own subprocess:
- ingest, baseline: the offline store written with pandas (`groupby` on the hour partition, `to_parquet` per part,
  the three added columns assigned), the online store upserted record by record (SELECT the stored event time,
  INSERT OR REPLACE if not older), as a PutRecord loop would;
- ingest, ours: `workbook.features.ingest` (pyarrow over whole columns, one SQLite `executemany` upsert);
- training set, baseline: `pd.read_parquet` of the offline store, then `point_in_time_pandas` (sort, drop_duplicates);
- training set, ours: `workbook.features.training_set` (the point-in-time SQL on DuckDB over the store).
The training set is taken in the middle of day 3 (two days' records visible); both must give the same rows. Wall time
of the work, peak RSS (from `os.wait4`'s rusage) of each subprocess. Writes bench/results/feature_store.json and
prints a table. Targets for ours: ingest and training set each < 10 s at 1,000,000 records.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from measured import measured_run

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "feature_store.json"
TARGET_SECONDS = 10.0
DAYS = 4
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
AS_OF = T0 + timedelta(days=2, hours=12)


def generate(folder: Path, n: int, seed: int = 0) -> dict:
    "Write the records of each day's ingestion to `folder/day-K.parquet`."
    import numpy as np
    import pandas as pd
    from workbook.config import DATA_FILE, NUMERIC_FEATURES
    from workbook.eda import clean_penguins, read_table
    from workbook.features import EVENT_TIME, engineer_features
    table = clean_penguins(read_table(DATA_FILE)).dropna(subset=NUMERIC_FEATURES).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    per_day = n // DAYS
    rows = table.sample(per_day, replace=True, random_state=seed).reset_index(drop=True)
    for day in range(DAYS):
        measured = rows.copy()
        for c in NUMERIC_FEATURES:  # each day's measurement differs a little
            measured[c] = (measured[c] + rng.normal(0, measured[c].std() * 0.05, per_day)).round(1)
        records = engineer_features(measured, T0 + timedelta(days=day), ids=np.arange(1, per_day + 1))
        records[EVENT_TIME] += rng.uniform(0, 86400, per_day).round(3)
        records.to_parquet(folder / f"day-{day}.parquet", index=False)
    return {"records": per_day * DAYS, "penguins": per_day, "days": DAYS}


def _group(store: Path):
    "Settings of a store and its feature group (created on first use)."
    import pandas as pd
    from workbook.config import WorkbookError, load_settings
    from workbook.features import create_feature_group, describe_feature_group, feature_group_request
    settings = load_settings({}, store=store)
    try: return settings, describe_feature_group(settings=settings)
    except WorkbookError: pass  # not created yet
    sample = pd.read_parquet(store.parent / "day-0.parquet").head(1)
    return settings, create_feature_group(feature_group_request(sample, settings=settings), settings, created=T0)


def ingest_ours(folder: Path) -> dict:
    import pandas as pd
    from workbook.features import ingest
    settings, _ = _group(folder / "ours")
    days = [pd.read_parquet(folder / f"day-{d}.parquet") for d in range(DAYS)]
    start = time.perf_counter()
    for d, records in enumerate(days): ingest(records, settings=settings, written=T0 + timedelta(days=d + 1))
    return {"work_seconds": time.perf_counter() - start, "records": sum(len(r) for r in days)}


def ingest_baseline(folder: Path) -> dict:
    "Offline store with pandas, one to_parquet per hour partition; online store record by record."
    import secrets
    import sqlite3
    import pandas as pd
    from workbook.config import s3_to_local
    from workbook.features import EVENT_TIME, RECORD_ID
    settings, group = _group(folder / "baseline")
    root = s3_to_local(group["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"], settings)
    days = [pd.read_parquet(folder / f"day-{d}.parquet") for d in range(DAYS)]
    db = sqlite3.connect(folder / "baseline" / "online.db")
    db.execute("CREATE TABLE IF NOT EXISTS records (record_id TEXT PRIMARY KEY, event_time REAL, record TEXT)")
    start = time.perf_counter()
    for d, records in enumerate(days):
        written = pd.Timestamp(T0 + timedelta(days=d + 1)).tz_localize(None)
        rows = records.assign(write_time=written, api_invocation_time=written, is_deleted=False)
        rows["write_time"] = rows.write_time.astype("datetime64[ms]")
        rows["api_invocation_time"] = rows.api_invocation_time.astype("datetime64[ms]")
        hour = pd.to_datetime(rows[EVENT_TIME], unit="s").dt.floor("h")
        for h, part in rows.groupby(hour):
            path = root / f"year={h:%Y}/month={h:%m}/day={h:%d}/hour={h:%H}"
            path.mkdir(parents=True, exist_ok=True)
            part.to_parquet(path / f"{written:%Y%m%dT%H%M%SZ}_{secrets.token_hex(8)}.parquet", index=False)
        with db:
            for record in records.to_dict("records"):
                key = str(record[RECORD_ID])
                stored = db.execute("SELECT event_time FROM records WHERE record_id = ?", (key,)).fetchone()
                if stored is None or record[EVENT_TIME] >= stored[0]:
                    db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?)",
                               (key, record[EVENT_TIME], json.dumps(record)))
    return {"work_seconds": time.perf_counter() - start, "records": sum(len(r) for r in days)}


def _summary(df) -> dict:
    "What both training sets must agree on."
    from workbook.features import RECORD_ID
    return {"rows": len(df), "id_sum": int(df[RECORD_ID].sum()), "culmen_sum": round(float(df.culmen_length_mm.sum()), 3),
            "mass_sum": round(float(df.body_mass_g.sum()), 3)}


def training_set_ours(folder: Path) -> dict:
    from workbook.features import training_set
    settings, _ = _group(folder / "ours")
    start = time.perf_counter()
    df = training_set(AS_OF, settings=settings)
    return {"work_seconds": time.perf_counter() - start, **_summary(df)}


def training_set_baseline(folder: Path) -> dict:
    import pandas as pd
    from workbook.config import s3_to_local
    from workbook.features import point_in_time_pandas
    settings, group = _group(folder / "ours")
    root = s3_to_local(group["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"], settings)
    start = time.perf_counter()
    df = point_in_time_pandas(pd.read_parquet(root, partitioning=None), AS_OF)
    return {"work_seconds": time.perf_counter() - start, **_summary(df)}


RUNS = {"ingest-ours": ingest_ours, "ingest-baseline": ingest_baseline,
        "training-set-ours": training_set_ours, "training-set-baseline": training_set_baseline}


def measure(kind: str, folder: Path) -> dict:
    "Run one implementation in a subprocess; its wall time, work time, peak RSS, and what it printed."
    result = measured_run(Path(__file__), kind, folder)
    print(f"{kind}: {result['work_seconds']:.2f} s", flush=True)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records to ingest (default 1,000,000)")
    parser.add_argument("--run", choices=sorted(RUNS), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(RUNS[args.run](args.folder)), flush=True)
        return 0
    sys.path.insert(0, str(ROOT / "code"))
    with tempfile.TemporaryDirectory(prefix="feature-store-bench-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        data = generate(folder, args.records)
        print(f"generated {data['records']:,} records ({data['penguins']:,} penguins, {DAYS} days) in {time.perf_counter() - start:.0f} s", flush=True)
        runs = {kind: measure(kind, folder) for kind in RUNS}
        offline_files = len(list((folder / "ours").rglob("*.parquet")))
    keys = ("rows", "id_sum", "culmen_sum", "mass_sum")
    agree = all(runs["training-set-ours"][k] == runs["training-set-baseline"][k] for k in keys)
    agree = agree and runs["ingest-ours"]["records"] == runs["ingest-baseline"]["records"] == data["records"]
    ours_ok = all(runs[k]["work_seconds"] < TARGET_SECONDS for k in ("ingest-ours", "training-set-ours"))
    result = {**data, "offline_files": offline_files, "as_of": AS_OF.isoformat(), "cpus": os.cpu_count(),
              "runs": runs, "ingest_speedup": round(runs["ingest-baseline"]["work_seconds"] / runs["ingest-ours"]["work_seconds"], 2),
              "training_set_speedup": round(runs["training-set-baseline"]["work_seconds"] / runs["training-set-ours"]["work_seconds"], 2),
              "load_average": os.getloadavg(), "results_agree": agree, "targets": {"seconds": TARGET_SECONDS},
              "passed": bool(agree and ours_ok)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    from workbook.config import text_table
    names = {"ingest-baseline": "ingest: pandas to_parquet + per-record upsert", "ingest-ours": "ingest: ours (features.ingest)",
             "training-set-baseline": "training set: read_parquet + pandas", "training-set-ours": "training set: ours (SQL on DuckDB)"}
    rows = [("", "work s", "wall s", "CPU s", "peak RSS MiB")]
    rows += [(names[k], f"{r['work_seconds']:.2f}", f"{r['seconds']:.2f}", f"{r['cpu_seconds']:.2f}", f"{r['peak_rss_mib']:.0f}")
             for k, r in runs.items()]
    print("\n" + text_table(rows, right=(1, 2, 3, 4)))
    print(f"\n{data['records']:,} records, training set of {runs['training-set-ours']['rows']:,} rows; ingest {result['ingest_speedup']:.1f}x, "
          f"training set {result['training_set_speedup']:.1f}x faster than the baseline; target < {TARGET_SECONDS:.0f} s each; results agree: {agree}")
    print(f"{'PASS' if result['passed'] else 'FAIL'}; results: {RESULTS}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

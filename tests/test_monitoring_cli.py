"""The monitoring module as SageMaker and the terminal run it: a script with nothing on the path, and `workbook monitor`."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "code" / "monitor.py"


def _run(args, env=None, cwd=None):
    "Run a command with a clean environment (no PYTHONPATH), return the completed process."
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(args, capture_output=True, text=True, env={**base, **(env or {})}, cwd=cwd, timeout=120)


def _baseline_csv(folder: Path) -> Path:
    from workbook.config import DATA_FILE, FEATURES
    df = pd.read_csv(DATA_FILE).dropna(subset=FEATURES)[FEATURES].sample(200, random_state=0)
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / "baseline.csv", index=False)
    return folder / "baseline.csv"


def test_script_help_runs_without_the_package_on_the_path(tmp_path):
    for sub in ([], ["baseline"], ["analyze"]):
        r = _run([sys.executable, str(SCRIPT), *sub, "--help"], cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "usage: monitor.py" in r.stdout


def test_baseline_job_on_the_container_layout(tmp_path):
    """`baseline` with SAGEMAKER_BASE_DIR: reads input/baseline_dataset_input/*.csv, writes output/*.json."""
    base = tmp_path / "opt" / "ml"
    _baseline_csv(base / "processing" / "input" / "baseline_dataset_input")
    r = _run([sys.executable, str(SCRIPT), "baseline"], env={"SAGEMAKER_BASE_DIR": str(base)}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = base / "processing" / "output"
    statistics = json.loads((out / "statistics.json").read_text())
    constraints = json.loads((out / "constraints.json").read_text())
    assert statistics["dataset"]["item_count"] == 200
    assert [f["name"] for f in constraints["features"]][0] == "island"
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"
    types = {f["name"]: f["inferred_type"] for f in statistics["features"]}
    assert (types["flipper_length_mm"], types["body_mass_g"]) == ("Fractional", "Fractional")  # written 181.0, 3750.0


def test_bad_input_exits_1_with_one_line(tmp_path):
    r = _run([sys.executable, str(SCRIPT), "baseline", "--base-dir", str(tmp_path)], cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("error: no CSV file") and "Traceback" not in r.stderr


def test_analyze_job_reads_the_analyzer_environment(tmp_path):
    """`analyze` takes dataset_source/output_path/start_time/end_time from the environment, as the analyzer container does."""
    from workbook.monitoring import capture_record, suggest_baseline, traffic_rows, write_capture
    suggest_baseline(pd.read_csv(_baseline_csv(tmp_path / "data")), tmp_path / "baseline")
    rows = traffic_rows(150, drift=True, seed=1)
    write_capture([capture_record(r + "\n", None, f"2024-05-01T10:{i % 60:02d}:00Z") for i, r in enumerate(rows)], tmp_path / "capture")
    write_capture([capture_record(r + "\n", None, f"2024-05-01T12:{i % 60:02d}:00Z") for i, r in enumerate(traffic_rows(50))], tmp_path / "capture")
    env = {"dataset_source": str(tmp_path / "capture"), "output_path": str(tmp_path / "out"),
           "start_time": "2024-05-01T10:00:00Z", "end_time": "2024-05-01T11:00:00Z"}
    r = _run([sys.executable, str(SCRIPT), "analyze", "--baseline-dir", str(tmp_path / "baseline")], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "out" / "statistics.json").read_text())["dataset"]["item_count"] == 150
    checks = {(v["constraint_check_type"], v["feature_name"]) for v in json.loads((tmp_path / "out" / "constraint_violations.json").read_text())["violations"]}
    assert ("baseline_drift_check", "body_mass_g") in checks and ("categorical_values_check", "island") in checks


def test_workbook_monitor_help():
    import argparse
    from workbook.monitoring import add_commands
    parser = argparse.ArgumentParser(prog="workbook")
    add_commands(parser.add_subparsers(dest="command"))
    for sub in ("baseline", "run", "report", "traffic", "label", "schedule", "unschedule"):
        with pytest.raises(SystemExit) as e: parser.parse_args(["monitor", sub, "--help"])
        assert e.value.code == 0

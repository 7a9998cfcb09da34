"""The whole pipeline on the local target, as `workbook run` runs it: from a clean store, cached, gated, killed and resumed."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, ROOT, run_cli

pytestmark = pytest.mark.slow  # whole-pipeline runs: `make test-slow` (CI runs it after `make test`)

FAST = {"WORKBOOK_SEED": "42"}


@pytest.fixture(scope="module")
def pipeline_store(tmp_path_factory):
    "One store in which the full pipeline has run once from scratch; returns (store, env, first run)."
    store = tmp_path_factory.mktemp("e2e") / "store"
    env = {"WORKBOOK_STORE": str(store), **FAST}
    start = time.perf_counter()
    first = run_cli("run", env=env, timeout=900)
    return store, env, first, time.perf_counter() - start


def _executions(store):
    return sorted((store / "executions").glob("*/*/execution.json"), key=lambda p: p.stat().st_mtime)


def _latest_record(store):
    return json.loads(_executions(store)[-1].read_text())


def test_full_pipeline_from_a_clean_store(pipeline_store):
    store, env, first, _ = pipeline_store
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    record = _latest_record(store)
    assert record["PipelineExecutionStatus"] == "Succeeded"
    statuses = {s["StepName"]: s["StepStatus"] for s in record["Steps"]}
    for step in ("PreprocessData", "TrainModel", "EvaluateModel", "CheckAccuracy", "BaselineData"):
        assert statuses.get(step) == "Succeeded", statuses
    assert statuses.get("Register-RegisterModel") == "Succeeded", statuses
    # the evaluation report is in SageMaker's model-quality shape, and the model passed the gate
    reports = list((store / "s3").rglob("evaluation.json"))
    assert reports
    report = json.loads(reports[0].read_text())
    accuracy = report["multiclass_classification_metrics"]["accuracy"]["value"]
    assert 0.95 <= accuracy <= 1.0
    # the registry holds one version waiting for approval, with that accuracy
    listing = run_cli("registry", "list", env=env, check=True).stdout
    row = next(line for line in listing.splitlines() if line.strip().startswith("1 "))
    assert "PendingManualApproval" in row and f"{accuracy:.4f}" in row
    # the monitoring baseline was written
    assert list((store / "s3").rglob("constraints.json")) and list((store / "s3").rglob("statistics.json"))


def test_rerun_reuses_every_cached_step(pipeline_store):
    store, env, first, _ = pipeline_store
    assert first.returncode == 0
    again = run_cli("run", env=env, timeout=300, check=True)
    record = _latest_record(store)
    cached = {s["StepName"] for s in record["Steps"] if s.get("CacheHitResult")}
    assert {"PreprocessData", "TrainModel", "EvaluateModel", "BaselineData"} <= cached, cached
    assert "cache hit" in again.stdout


def test_gate_fails_with_the_metric_in_the_message(pipeline_store):
    store, env, first, _ = pipeline_store
    assert first.returncode == 0
    r = run_cli("run", "--param", "AccuracyThreshold=1.01", env=env, timeout=300)
    assert r.returncode == 1
    record = _latest_record(store)
    assert record["PipelineExecutionStatus"] == "Failed"
    assert "accuracy" in record["FailureReason"] and "below the threshold 1.01" in record["FailureReason"], record["FailureReason"]
    fail = next(s for s in record["Steps"] if s["StepName"].startswith("FailOnAccuracy"))
    assert fail["StepStatus"] == "Failed"


def test_executions_are_listed(pipeline_store):
    store, env, first, _ = pipeline_store
    out = run_cli("executions", env=env, check=True).stdout
    record = json.loads(_executions(store)[0].read_text())
    assert record["PipelineExecutionId"] in out
    detail = run_cli("executions", record["PipelineExecutionId"], env=env, check=True).stdout
    assert "PreprocessData" in detail and "TrainModel" in detail


def test_killed_run_resumes_with_finished_steps_cached(tmp_path):
    store = tmp_path / "store"
    env = {**os.environ, "WORKBOOK_STORE": str(store), **FAST}
    proc = subprocess.Popen([str(BIN / "workbook"), "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 300
    try:
        while time.time() < deadline:  # wait until preprocessing is done and training is running
            records = _executions(store) if (store / "executions").exists() else []
            if records:
                steps = {s["StepName"]: s["StepStatus"] for s in json.loads(records[-1].read_text()).get("Steps", [])}
                if steps.get("PreprocessData") == "Succeeded" and steps.get("TrainModel") == "Executing": break
            if proc.poll() is not None: pytest.fail("the run ended before it could be killed:\n" + proc.stdout.read())
            time.sleep(0.5)
        else: pytest.fail("training never started")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None: os.killpg(proc.pid, signal.SIGKILL)
    killed = json.loads(_executions(store)[-1].read_text())
    assert killed["PipelineExecutionStatus"] in ("Executing", "Stopped")
    listing = run_cli("executions", killed["PipelineExecutionId"], env={"WORKBOOK_STORE": str(store)}, check=True).stdout
    assert "Stopped" in listing
    resumed = run_cli("run", "--resume", killed["PipelineExecutionId"], env={"WORKBOOK_STORE": str(store), **FAST}, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    record = json.loads(_executions(store)[-1].read_text())
    steps = {s["StepName"]: s for s in record["Steps"]}
    assert record["PipelineExecutionId"] == killed["PipelineExecutionId"]
    assert record["PipelineExecutionStatus"] == "Succeeded"
    assert steps["PreprocessData"]["AttemptCount"] == 1  # finished before the kill: not run again
    assert steps["TrainModel"]["AttemptCount"] == 2


def test_monitor_run_uses_the_baseline_registered_with_the_version(pipeline_store, tmp_path):
    """The RegisterModel step's DriftCheckBaselines are kept by the local registry: `workbook monitor run --version 1`
    compares traffic with the BaselineData output registered with version 1."""
    from workbook.monitoring import capture_record, traffic_rows, write_capture
    store, env, first, _ = pipeline_store
    assert first.returncode == 0
    write_capture([capture_record(r + "\n", None, f"2026-09-01T10:{i % 60:02d}:00Z") for i, r in enumerate(traffic_rows(100, drift=True))],
                  tmp_path / "capture")
    r = run_cli("monitor", "run", "--version", "1", "--capture", str(tmp_path / "capture"), "--output", str(tmp_path / "out"), env=env, check=True)
    first_line = r.stdout.splitlines()[0]
    assert first_line.startswith("baseline: registered with model version 1 (s3://") and "/BaselineData/" in first_line, r.stdout
    assert "baseline_drift_check" in r.stdout
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["model_version"] == 1 and Path(run["baseline"], "constraints.json").is_file()


def test_tuned_branch_registers_the_best_trial(pipeline_store):
    "UseTuning=true: TuneModel (two trials), EvaluateTunedModel, the gate and RegisterTuned; preprocessing is reused."
    store, env, first, _ = pipeline_store
    assert first.returncode == 0
    r = run_cli("run", "--param", "UseTuning=true", "--param", "MaxTuningJobs=2", env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    record = _latest_record(store)
    steps = {s["StepName"]: s for s in record["Steps"]}
    for name in ("TuneModel", "EvaluateTunedModel", "CheckTunedAccuracy", "RegisterTuned-RegisterModel"):
        assert steps[name]["StepStatus"] == "Succeeded", (name, steps[name])
    assert "TrainModel" not in steps and steps["PreprocessData"].get("CacheHitResult")
    tuned = json.loads((Path(store) / "executions" / record["PipelineName"] / record["PipelineExecutionId"] / "steps" / "TuneModel.json").read_text())
    assert len(tuned["Properties"]["TrainingJobSummaries"]) == 2
    best = tuned["Properties"]["BestTrainingJob"]["TrainingJobName"]
    registered = json.loads((Path(store) / "executions" / record["PipelineName"] / record["PipelineExecutionId"] / "steps"
                             / "RegisterTuned-RegisterModel.json").read_text())["Request"]
    assert f"/{best}/output/model.tar.gz" in registered["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]


def test_automl_branch_registers_its_best_candidate(pipeline_store):
    "UseAutoML=true: PrepareAutoMLData, RunAutoML (an AutoML step), the same evaluation and gate; the registry lists the version."
    from workbook.config import load_settings, s3_to_local
    store, env, first, _ = pipeline_store
    assert first.returncode == 0
    r = run_cli("run", "--param", "UseAutoML=true", env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    record = _latest_record(store)
    steps = {s["StepName"]: s for s in record["Steps"]}
    for name in ("PrepareAutoMLData", "RunAutoML", "EvaluateAutoMLModel", "CheckAutoMLAccuracy", "RegisterAutoML-RegisterModel"):
        assert steps[name]["StepStatus"] == "Succeeded", (name, steps[name])
    assert steps["RunAutoML"]["StepType"] == "AutoML" and "AutoMLJob" in steps["RunAutoML"]["Metadata"]
    folder = Path(store) / "executions" / record["PipelineName"] / record["PipelineExecutionId"] / "steps"
    described = json.loads((folder / "RunAutoML.json").read_text())["Properties"]
    model_url = described["BestCandidate"]["InferenceContainers"][0]["ModelDataUrl"]
    settings = load_settings({}, store=store)
    board = json.loads(s3_to_local(model_url.rsplit("/", 1)[0] + "/leaderboard.json", settings).read_text())["Candidates"]
    assert board[0]["CandidateName"] == described["BestCandidate"]["CandidateName"]
    assert s3_to_local(described["BestCandidateProperties"]["ModelInsightsJsonReportPath"], settings).is_file()
    registered = json.loads((folder / "RegisterAutoML-RegisterModel.json").read_text())["Request"]
    assert registered["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == model_url
    report_file, = (Path(store) / "s3").rglob(f"{record['PipelineExecutionId']}/EvaluateAutoMLModel/**/evaluation.json")
    accuracy = json.loads(report_file.read_text())["multiclass_classification_metrics"]["accuracy"]["value"]
    assert 0.95 <= accuracy <= 1.0
    listing = run_cli("registry", "list", env=env, check=True).stdout
    row = next(line for line in listing.splitlines() if model_url in line)
    assert "PendingManualApproval" in row and f"{accuracy:.4f}" in row


def test_lineage_of_the_registered_version(pipeline_store):
    "workbook lineage 1: the model, the training job that made it, the data it read (hashed), the preprocessing before it, the report."
    import hashlib
    store, env, first, _ = pipeline_store
    assert first.returncode == 0
    out = run_cli("lineage", "1", env=env, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "model package penguins/1" and lines[1] == "  approval: PendingManualApproval"
    execution = json.loads(_executions(store)[0].read_text())["PipelineExecutionId"]  # the first run registered version 1
    assert f"training job penguins-train-{execution}" in out and f"processing job penguins-preprocess-{execution}" in out
    assert f"processing job penguins-evaluate-{execution}" in out and "<- report s3://" in out
    raw = hashlib.sha256((store / "s3" / "penguins-workbook" / "data" / "penguins.csv").read_bytes()).hexdigest()
    assert f"input={raw[:12]}" in out  # the preprocessing job read exactly the bytes of the data file
    # the MLflow model version links to the training job's run
    import mlflow
    from workbook.config import load_settings
    uri = load_settings({}, store=store).mlflow_tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version("penguins", "1")
    assert version.run_id and client.get_run(version.run_id).info.run_name == f"penguins-train-{execution}"

"""End-to-end tests of the local pipeline engine (workbook.local.engine) on hand-written definitions.

The steps are tiny throwaway scripts shipped the way the SageMaker SDK ships them (sourcedir.tar.gz plus the
FrameworkProcessor's runproc.sh; training through the sagemaker-training toolkit), so these tests check the engine,
not the workbook's own step modules.
"""
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from workbook.config import WorkbookError, load_settings, s3_to_local
from workbook.local import engine
from workbook.local.engine import describe_execution, format_execution_table, list_executions
from workbook.local.jobs import pack_folder, runproc_script
from workbook.tuning import run_tuning_job

REGISTERED = []  # the requests of RegisterModel steps in the current test


def _register(request, settings):
    "A registry that records the requests (the workbook's registry is tested with its own module)."
    REGISTERED.append(request)
    return {"ModelPackageArn": f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{request['ModelPackageGroupName']}/{len(REGISTERED)}"}


def run_definition(definition, settings, *args, **kwargs):
    "The engine with the hooks a caller passes: the workbook's tuner and the recording registry."
    return engine.run_definition(definition, settings, *args, tuner=run_tuning_job, registry=_register, **kwargs)

SCRIPTS = {
    # splits the raw rows: every row goes to train, and the row count to a stats file
    "prep.py": """
        import os, pathlib
        base = pathlib.Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")) / "processing"
        rows = [l for p in sorted((base / "input").glob("*.csv")) for l in p.read_text().splitlines()]
        (base / "train" / "train.csv").write_text("\\n".join(rows) + "\\n")
        print("prepared", len(rows), "rows")
    """,
    # a "model": its score is the number of rows divided by the epochs hyperparameter
    "train.py": """
        import argparse, os, pathlib
        p = argparse.ArgumentParser(); p.add_argument("--epochs", type=int, required=True)
        args = p.parse_args()
        rows = len((pathlib.Path(os.environ["SM_CHANNEL_TRAIN"]) / "train.csv").read_text().splitlines())
        score = rows / (10 * args.epochs)
        print(f"val_accuracy={score / 2}"); print(f"val_accuracy={score}")
        (pathlib.Path(os.environ["SM_MODEL_DIR"]) / "score.txt").write_text(str(score))
    """,
    # reads model.tar.gz and writes the evaluation report
    "evaluate.py": """
        import json, os, pathlib, tarfile
        base = pathlib.Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")) / "processing"
        with tarfile.open(base / "model" / "model.tar.gz") as tar: score = float(tar.extractfile("score.txt").read())
        (base / "evaluation" / "evaluation.json").write_text(json.dumps({"metrics": {"accuracy": {"value": score}}}))
    """,
    # waits while the file named by HOLD_FILE exists (so a test can kill the engine mid-step), then writes a marker
    "wait.py": """
        import os, pathlib, time
        base = pathlib.Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")) / "processing"
        hold = pathlib.Path(os.environ["HOLD_FILE"])
        (hold.parent / "job.pid").write_text(str(os.getpid()))
        deadline = time.time() + 60
        while hold.exists() and time.time() < deadline: time.sleep(0.1)
        (base / "out" / "done.txt").write_text("done")
    """,
    # sleeps SECONDS seconds
    "sleep.py": """
        import os, time
        time.sleep(float(os.environ["SECONDS"]))
    """,
}
BUCKET = "bkt"


@pytest.fixture
def settings(tmp_path):
    "Settings on a temporary store holding the throwaway source, its runproc.sh scripts and ten raw rows."
    s = load_settings({}, store=tmp_path / "store", pipeline_name="test-pipeline", image_environments="sklearn=workbook,tf=workbook")
    code = tmp_path / "code"
    code.mkdir()
    for name, text in SCRIPTS.items(): (code / name).write_text(textwrap.dedent(text))
    pack_folder(code, s3_to_local(f"s3://{BUCKET}/code/sourcedir.tar.gz", s))
    for name in SCRIPTS:
        runproc = s3_to_local(f"s3://{BUCKET}/code/{name[:-3]}/runproc.sh", s)
        runproc.parent.mkdir(parents=True)
        runproc.write_text(runproc_script(name))
    raw = s3_to_local(f"s3://{BUCKET}/raw/data.csv", s)
    raw.parent.mkdir(parents=True)
    raw.write_text("".join(f"{i},{i * 2}\n" for i in range(10)))
    return s


@pytest.fixture
def registered():
    "The requests of this test's RegisterModel steps."
    REGISTERED.clear()
    return REGISTERED


def _input(name, uri, path):
    return {"InputName": name, "AppManaged": False, "S3Input": {"S3Uri": uri, "LocalPath": path, "S3DataType": "S3Prefix",
            "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}}


def _output(name):
    "An output whose S3 location the SDK would render: s3://bucket/<pipeline execution id>/<step>/output/<name>."
    uri = {"Std:Join": {"On": "/", "Values": ["s3:/", BUCKET, {"Get": "Execution.PipelineExecutionId"}, "step", "output", name]}}
    return {"OutputName": name, "AppManaged": False, "S3Output": {"S3Uri": uri, "LocalPath": f"/opt/ml/processing/{name}", "S3UploadMode": "EndOfJob"}}


def processing_step(name, script, inputs=(), outputs=(), env=None, cache=True, **extra):
    "A Processing step as a FrameworkProcessor with source_dir renders it."
    code = [_input("code", f"s3://{BUCKET}/code/sourcedir.tar.gz", "/opt/ml/processing/input/code"),
            _input("entrypoint", f"s3://{BUCKET}/code/{script}/runproc.sh", "/opt/ml/processing/input/entrypoint")]
    step = {"Name": name, "Type": "Processing", "Arguments": {
        "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": "sklearn", "ContainerEntrypoint": ["/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"]},
        "RoleArn": "arn:aws:iam::000000000000:role/r", "Environment": env or {},
        "ProcessingInputs": list(inputs) + code, "ProcessingOutputConfig": {"Outputs": [_output(o) for o in outputs]}}, **extra}
    if cache: step["CacheConfig"] = {"Enabled": True, "ExpireAfter": "P30D"}
    return step


def training_definition(threshold=0.5):
    "Prep -> Train (toolkit) -> Evaluate (property file) -> Check: Register | Fail."
    accuracy = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"}, "Path": "metrics.accuracy.value"}}
    train = {"Name": "Train", "Type": "Training", "CacheConfig": {"Enabled": True, "ExpireAfter": "PT1H"}, "Arguments": {
        "AlgorithmSpecification": {"TrainingImage": "tf", "TrainingInputMode": "File",
                                   "MetricDefinitions": [{"Name": "val_accuracy", "Regex": r"val_accuracy=([0-9\.]+)"}]},
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"}, "RoleArn": "arn:aws:iam::000000000000:role/r",
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {"epochs": {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.Epochs"}]}},
                            "sagemaker_program": '"train.py"', "sagemaker_container_log_level": "20",
                            "sagemaker_submit_directory": f'"s3://{BUCKET}/code/sourcedir.tar.gz"', "sagemaker_region": '"us-east-1"'},
        "InputDataConfig": [{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3DataDistributionType": "FullyReplicated",
            "S3Uri": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}}}}]}}
    evaluate = processing_step("Evaluate", "evaluate", outputs=["evaluation"],
        inputs=[_input("model", {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}, "/opt/ml/processing/model")],
        PropertyFiles=[{"PropertyFileName": "Report", "OutputName": "evaluation", "FilePath": "evaluation.json"}])
    register = {"Name": "Register-RegisterModel", "Type": "RegisterModel", "Arguments": {
        "ModelPackageGroupName": "penguins", "ModelApprovalStatus": {"Get": "Parameters.ApprovalStatus"},
        "InferenceSpecification": {"Containers": [{"Image": "tfs", "ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}}]},
        "CustomerMetadataProperties": {"metric": {"Std:Join": {"On": "", "Values": [{"Get": "Steps.Train.FinalMetricDataList['val_accuracy'].Value"}]}}}}}
    fail = {"Name": "FailOnAccuracy", "Type": "Fail", "Arguments": {"ErrorMessage": {"Std:Join": {
        "On": " ", "Values": ["accuracy", accuracy, "is below the threshold", {"Get": "Parameters.Threshold"}]}}}}
    check = {"Name": "Check", "Type": "Condition", "Arguments": {
        "Conditions": [{"Type": "GreaterThanOrEqualTo", "LeftValue": accuracy, "RightValue": {"Get": "Parameters.Threshold"}},
                       {"Type": "Not", "Condition": {"Type": "In", "QueryValue": {"Get": "Parameters.ApprovalStatus"}, "Values": ["Rejected"]}}],
        "IfSteps": [register], "ElseSteps": [fail]}}
    return {"Version": "2020-12-01", "Metadata": {},
            "Parameters": [{"Name": "InputData", "Type": "String", "DefaultValue": f"s3://{BUCKET}/raw"},
                           {"Name": "Epochs", "Type": "Integer", "DefaultValue": 2},
                           {"Name": "Threshold", "Type": "Float", "DefaultValue": threshold},
                           {"Name": "ApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval"}],
            "Steps": [processing_step("Prep", "prep", inputs=[_input("raw", {"Get": "Parameters.InputData"}, "/opt/ml/processing/input")],
                                      outputs=["train"]), train, evaluate, check]}


def _steps(record):
    return [(s["StepName"], s["StepStatus"]) for s in record["Steps"]]


def test_pipeline_end_to_end_cache_and_gate(settings, registered, capsys):
    definition = training_definition()
    first = run_definition(definition, settings)
    assert first["PipelineExecutionStatus"] == "Succeeded", format_execution_table(first)
    assert _steps(first) == [("Prep", "Succeeded"), ("Train", "Succeeded"), ("Evaluate", "Succeeded"), ("Check", "Succeeded"),
                             ("Register-RegisterModel", "Succeeded")]
    # the training job: toolkit, metrics (latest value wins), model.tar.gz at {S3OutputPath}/{job}/output
    saved = json.loads((Path(first["ExecutionDir"]) / "steps" / "Train.json").read_text())["Properties"]
    assert saved["FinalMetricDataList"][0]["MetricName"] == "val_accuracy" and saved["FinalMetricDataList"][0]["Value"] == 0.5
    job = saved["TrainingJobName"]
    assert job == f"pipelines-{first['PipelineExecutionId']}-Train"
    assert saved["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/models/{job}/output/model.tar.gz"
    with tarfile.open(s3_to_local(saved["ModelArtifacts"]["S3ModelArtifacts"], settings)) as tar: assert tar.getnames() == ["score.txt"]
    # the register step got the resolved request
    assert registered[0]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == saved["ModelArtifacts"]["S3ModelArtifacts"]
    assert registered[0]["ModelApprovalStatus"] == "PendingManualApproval" and registered[0]["CustomerMetadataProperties"] == {"metric": "0.5"}
    # the record: persisted, with job ARNs, log files and the condition outcome
    record = describe_execution(settings, first["PipelineExecutionId"])
    assert record["Parameters"] == {"InputData": f"s3://{BUCKET}/raw", "Epochs": 2, "Threshold": 0.5, "ApprovalStatus": "PendingManualApproval"}
    by_name = {s["StepName"]: s for s in record["Steps"]}
    assert by_name["Train"]["Metadata"]["TrainingJob"]["Arn"].endswith(f":training-job/{job.lower()}")
    assert by_name["Check"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert by_name["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"].endswith("model-package/penguins/1")
    assert "prepared 10 rows" in Path(by_name["Prep"]["Logs"][0]).read_text()
    assert "val_accuracy=0.5" in Path(by_name["Train"]["Logs"][0]).read_text()
    assert all(s["AttemptCount"] == 1 and s["StartTime"] <= s["EndTime"] for s in record["Steps"])
    out = capsys.readouterr().out
    assert "Train                  Executing (Training)" in out and "Succeeded in" in out and "Register-RegisterModel" in out

    # same arguments again: the three job steps are cache hits, and the run says so
    second = run_definition(definition, settings)
    assert second["PipelineExecutionStatus"] == "Succeeded"
    hits = {s["StepName"]: s.get("CacheHitResult", {}).get("SourcePipelineExecutionArn") for s in second["Steps"]}
    assert hits == {"Prep": first["PipelineExecutionArn"], "Train": first["PipelineExecutionArn"],
                    "Evaluate": first["PipelineExecutionArn"], "Check": None, "Register-RegisterModel": None}
    assert "cache hit" in capsys.readouterr().out
    assert len(registered) == 2

    # the gate fails: threshold above the accuracy, the Fail step's message carries the metric; cached steps reused
    gated = run_definition(definition, settings, {"Threshold": "0.9"})
    assert gated["PipelineExecutionStatus"] == "Failed"
    assert gated["FailureReason"] == "accuracy 0.5 is below the threshold 0.9"
    assert _steps(gated)[-2:] == [("Check", "Succeeded"), ("FailOnAccuracy", "Failed")]
    assert len(registered) == 2  # the branch not taken never ran
    with pytest.raises(WorkbookError, match="a resumed execution keeps them"):
        run_definition(definition, settings, {"Threshold": 0.1}, resume=gated["PipelineExecutionId"])

    # a changed hyperparameter misses the cache for Train (and so for Evaluate), but not for Prep
    changed = run_definition(definition, settings, {"Epochs": 5, "Threshold": 0.1})
    assert changed["PipelineExecutionStatus"] == "Succeeded"
    assert ["CacheHitResult" in s for s in changed["Steps"][:3]] == [True, False, False]
    assert [r["PipelineExecutionId"] for r in list_executions(settings)][0] == changed["PipelineExecutionId"]


def test_expired_cache_is_not_reused(settings):
    definition = {"Steps": [processing_step("Prep", "prep", inputs=[_input("raw", f"s3://{BUCKET}/raw", "/opt/ml/processing/input")],
                                            outputs=["train"])]}
    definition["Steps"][0]["CacheConfig"]["ExpireAfter"] = "PT1S"
    run_definition(definition, settings, progress=False)
    time.sleep(1.2)
    again = run_definition(definition, settings, progress=False)
    assert "CacheHitResult" not in again["Steps"][0]


def test_failed_step_then_resume(settings):
    definition = {"Steps": [
        processing_step("Prep", "prep", inputs=[_input("raw", f"s3://{BUCKET}/raw", "/opt/ml/processing/input")], outputs=["train"]),
        processing_step("Again", "prep", inputs=[_input("raw", f"s3://{BUCKET}/later", "/opt/ml/processing/input")], outputs=["train"],
                        DependsOn=["Prep"])]}
    failed = run_definition(definition, settings, execution_id="first-try", progress=False)
    assert failed["PipelineExecutionStatus"] == "Failed"
    assert _steps(failed) == [("Prep", "Succeeded"), ("Again", "Failed")]
    assert 'No S3 objects found under S3 URL "s3://bkt/later"' in failed["Steps"][1]["FailureReason"]
    assert failed["FailureReason"].startswith("step Again failed: ClientError: No S3 objects found")
    prep_started = failed["Steps"][0]["StartTime"]

    later = s3_to_local(f"s3://{BUCKET}/later/more.csv", settings)
    later.parent.mkdir(parents=True)
    later.write_text("1,2\n")
    resumed = run_definition(definition, settings, resume="first-try", progress=False)
    assert resumed["PipelineExecutionId"] == "first-try" and resumed["PipelineExecutionStatus"] == "Succeeded"
    assert _steps(resumed) == [("Prep", "Succeeded"), ("Again", "Succeeded")]
    assert resumed["Steps"][0]["StartTime"] == prep_started  # reused, not run again
    assert resumed["Steps"][1]["AttemptCount"] == 2
    assert resumed["FailureReason"] is None
    with pytest.raises(WorkbookError, match="no execution 'missing'"):
        run_definition(definition, settings, resume="missing")


ENGINE = """
import json, sys
from pathlib import Path
from workbook.config import load_settings
from workbook.local.engine import run_definition
s = load_settings({}, store=Path(sys.argv[1]), pipeline_name="test-pipeline", image_environments="sklearn=workbook,tf=workbook")
run_definition(json.loads(Path(sys.argv[2]).read_text()), s, execution_id="killed-run", registry=lambda request, settings: {})
"""


def _process_gone(pid: int, timeout: float) -> bool:
    "Wait until `pid` has exited (a zombie waiting to be reaped counts as exited)."
    deadline = time.time() + timeout
    while time.time() < deadline:
        try: state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError): return True
        if state in ("Z", "X"): return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_kill_mid_step_then_resume(settings, tmp_path, sig):
    hold = tmp_path / "hold"
    hold.write_text("wait")
    definition = {"Steps": [
        processing_step("Prep", "prep", inputs=[_input("raw", f"s3://{BUCKET}/raw", "/opt/ml/processing/input")], outputs=["train"]),
        processing_step("Wait", "wait", outputs=["out"], env={"HOLD_FILE": str(hold)}, DependsOn=["Prep"])]}
    (tmp_path / "definition.json").write_text(json.dumps(definition))
    proc = subprocess.Popen([sys.executable, "-c", ENGINE, str(settings.store), str(tmp_path / "definition.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pid_file = tmp_path / "job.pid"
    deadline = time.time() + 30
    while not pid_file.exists() and time.time() < deadline: time.sleep(0.1)
    assert pid_file.exists(), proc.communicate(timeout=5)[0] if proc.poll() is not None else "the Wait step did not start"
    job_pid = int(pid_file.read_text())
    record = describe_execution(settings, "killed-run")
    assert record["PipelineExecutionStatus"] == "Executing" and _steps(record) == [("Prep", "Succeeded"), ("Wait", "Executing")]

    proc.send_signal(sig)
    output = proc.communicate(timeout=30)[0]
    if sig == signal.SIGKILL: os.kill(job_pid, signal.SIGKILL)  # the job outlives a kill -9 of the engine
    else:  # a catchable signal stops the job's processes and records Stopped
        assert _process_gone(job_pid, timeout=10), f"job process {job_pid} still runs after the engine stopped"
        assert "Stopped" in output
    record = describe_execution(settings, "killed-run")
    assert record["PipelineExecutionStatus"] == "Stopped"
    assert record["Steps"][1]["StepStatus"] == ("Stopped" if sig == signal.SIGTERM else "Executing")

    hold.unlink()
    resumed = run_definition(definition, settings, resume="killed-run", progress=False)
    assert resumed["PipelineExecutionStatus"] == "Succeeded"
    assert [(s["StepName"], s["AttemptCount"]) for s in resumed["Steps"]] == [("Prep", 1), ("Wait", 2)]
    wait = json.loads((Path(resumed["ExecutionDir"]) / "steps" / "Wait.json").read_text())["Properties"]
    uri = wait["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert (s3_to_local(uri, settings) / "done.txt").read_text() == "done"
    assert wait["ProcessingJobName"] == "pipelines-killed-run-Wait-2"  # its own job folder and log


def test_tuning_step_with_toolkit_trials(settings, registered):
    base = training_definition()
    train_args = next(s for s in base["Steps"] if s["Name"] == "Train")["Arguments"]
    tdef = {k: v for k, v in train_args.items() if k not in ("HyperParameters", "ResourceConfig")}
    hps = dict(train_args["HyperParameters"]); del hps["epochs"]
    tune = {"Name": "Tune", "Type": "Tuning", "Arguments": {
        "HyperParameterTuningJobName": "penguins-tune",
        "HyperParameterTuningJobConfig": {"Strategy": "Random", "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "TrainingJobEarlyStoppingType": "Off", "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "val_accuracy"},
            "ParameterRanges": {"IntegerParameterRanges": [{"Name": "epochs", "MinValue": "1", "MaxValue": "5", "ScalingType": "Auto"}]}},
        "TrainingJobDefinition": {**tdef, "StaticHyperParameters": hps,
                                  "HyperParameterTuningResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}}}}
    top_model = {"Std:Join": {"On": "/", "Values": ["s3:/", BUCKET, "models", {"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"},
                                                    "output/model.tar.gz"]}}
    register = {"Name": "Register-RegisterModel", "Type": "RegisterModel", "Arguments": {
        "ModelPackageGroupName": "penguins",
        "InferenceSpecification": {"Containers": [{"Image": "tfs", "ModelDataUrl": top_model}]},
        "CustomerMetadataProperties": {"best": {"Get": "Steps.Tune.BestTrainingJob.TrainingJobName"}}}}
    definition = {"Parameters": base["Parameters"], "Steps": [base["Steps"][0], tune, register]}
    record = run_definition(definition, settings, progress=False)
    assert record["PipelineExecutionStatus"] == "Succeeded", format_execution_table(record)
    tuned = json.loads((Path(record["ExecutionDir"]) / "steps" / "Tune.json").read_text())["Properties"]
    best = tuned["BestTrainingJob"]
    assert tuned["HyperParameterTuningJobName"] == f"penguins-tune-{record['PipelineExecutionId']}"
    assert len(tuned["TrainingJobSummaries"]) == 2 and best == tuned["TrainingJobSummaries"][0]
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in tuned["TrainingJobSummaries"]]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(10 / (10 * int(best["TunedHyperParameters"]["epochs"])))  # the metric came from that trial's log
    model = registered[0]["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert model == f"s3://{BUCKET}/models/{best['TrainingJobName']}/output/model.tar.gz" and s3_to_local(model, settings).exists()
    assert registered[0]["CustomerMetadataProperties"] == {"best": best["TrainingJobName"]}
    tune_entry = next(s for s in record["Steps"] if s["StepName"] == "Tune")
    assert len(tune_entry["Logs"]) == 2 and all(Path(p).exists() for p in tune_entry["Logs"])


def test_unsupported_step_type_and_bad_parameters(settings):
    definition = {"Steps": [{"Name": "Notify", "Type": "Lambda", "Arguments": {}}]}
    with pytest.raises(WorkbookError, match="step 'Notify' has type 'Lambda', which the local engine does not run"):
        run_definition(definition, settings)
    assert not (settings.store / "executions").exists()  # nothing started
    with pytest.raises(WorkbookError, match="unknown pipeline parameter 'Epoch'"):
        run_definition(training_definition(), settings, {"Epoch": 3})


def test_definition_problems_stop_the_run_before_any_step(settings):
    definition = training_definition()
    definition["Steps"][0]["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 2
    with pytest.raises(WorkbookError) as e:
        engine.run_definition(definition, settings)  # no registry: the RegisterModel step cannot run either
    assert str(e.value).splitlines() == ["step 'Prep': InstanceCount 2: a local job runs on one instance",
                                         "step 'Register-RegisterModel' is a RegisterModel step: run_definition needs a registry (registry=...)"]
    assert not (settings.store / "executions").exists()  # nothing started


def test_the_engine_imports_nothing_of_the_workbook_above_it():
    "The engine is generic: the tuner and the registry come from its caller."
    code = ("import sys, workbook.local.engine; "
            "print(sorted(m for m in ('workbook.tuning', 'workbook.registry', 'workbook.tracking', 'workbook.pipeline', 'mlflow') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def _sleepers(names, seconds=2):
    "Independent processing steps that each sleep `seconds`."
    return {"Version": "2020-12-01", "Steps": [processing_step(n, "sleep", env={"SECONDS": str(seconds)}, cache=False) for n in names]}


def _interval(record, name):
    from datetime import datetime
    step = next(s for s in record["Steps"] if s["StepName"] == name)
    return datetime.fromisoformat(step["StartTime"]), datetime.fromisoformat(step["EndTime"])


def test_independent_steps_run_in_parallel(settings):
    record = run_definition(_sleepers(["A", "B"]), settings, max_parallel=2, progress=False)
    assert record["PipelineExecutionStatus"] == "Succeeded", format_execution_table(record)
    (a0, a1), (b0, b1) = _interval(record, "A"), _interval(record, "B")
    assert a0 < b1 and b0 < a1  # the two steps overlapped
    one_at_a_time = run_definition(_sleepers(["A", "B"]), settings, max_parallel=1, progress=False)
    (a0, a1), (b0, b1) = _interval(one_at_a_time, "A"), _interval(one_at_a_time, "B")
    assert a1 <= b0 or b1 <= a0  # they did not


def test_max_runtime_stops_the_job_and_fails_the_step(settings):
    definition = _sleepers(["Slow"], seconds=60)
    definition["Steps"][0]["Arguments"]["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
    record = run_definition(definition, settings, progress=False)
    assert record["PipelineExecutionStatus"] == "Failed"
    assert "MaxRuntimeExceeded: the job ran longer than its MaxRuntimeInSeconds (1 s)" in record["Steps"][0]["FailureReason"]


def test_retry_policies_retry_internal_errors_only(settings, monkeypatch):
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
    definition = _sleepers(["Flaky"], seconds=0)
    definition["Steps"][0]["Arguments"]["AppSpecification"]["ImageUri"] = image
    definition["Steps"][0]["RetryPolicies"] = [{"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"], "IntervalSeconds": 1, "BackoffRate": 1.0, "MaxAttempts": 2}]
    calls = []
    def build(env, requirements="", root=None, say=print):
        calls.append(env.name)
        if len(calls) == 1: raise WorkbookError("could not build the environment of sklearn-1.4-2: network down")
        return Path(sys.executable)
    monkeypatch.setattr(engine, "build_environment", build)
    record = run_definition(definition, settings, progress=False)
    assert record["PipelineExecutionStatus"] == "Succeeded", format_execution_table(record)
    assert calls == ["sklearn-1.4-2", "sklearn-1.4-2"] and record["Steps"][0]["AttemptCount"] == 2
    calls.clear()
    definition["Steps"][0]["RetryPolicies"][0]["MaxAttempts"] = 0
    failed = run_definition(definition, settings, progress=False)
    assert failed["Steps"][0]["FailureReason"].startswith("InternalServerError: could not build") and calls == ["sklearn-1.4-2"]


def test_resume_keeps_the_original_definition_and_parameters(settings, capsys):
    raw = _input("raw", {"Get": "Parameters.Source"}, "/opt/ml/processing/input")
    definition = {"Parameters": [{"Name": "Source", "Type": "String", "DefaultValue": f"s3://{BUCKET}/none"}], "Steps": [
        processing_step("Prep", "prep", inputs=[raw], outputs=["train"]),
        {"Name": "Stop", "Type": "Fail", "DependsOn": ["Prep"], "Arguments": {"ErrorMessage": "first message"}}]}
    failed = run_definition(definition, settings, {"Source": f"s3://{BUCKET}/raw"}, execution_id="with-params", progress=False)
    assert failed["FailureReason"] == "first message"
    changed = json.loads(json.dumps(definition))
    changed["Steps"][1]["Arguments"]["ErrorMessage"] = "second message"
    resumed = run_definition(changed, settings, {}, resume="with-params")  # `workbook run --resume ID` names no parameter
    assert resumed["FailureReason"] == "first message"  # SageMaker retries an execution with the definition it started with
    assert "the pipeline definition changed since execution with-params started" in capsys.readouterr().out
    assert resumed["Parameters"]["Source"] == f"s3://{BUCKET}/raw"
    stored = json.loads((Path(resumed["ExecutionDir"]) / "definition.json").read_text())
    assert stored["Steps"][1]["Arguments"]["ErrorMessage"] == "first message"


def test_a_second_run_on_the_same_store_stops_with_one_line(settings, tmp_path):
    hold = tmp_path / "hold"
    hold.write_text("wait")
    definition = {"Steps": [processing_step("Wait", "wait", outputs=["out"], env={"HOLD_FILE": str(hold)})]}
    (tmp_path / "definition.json").write_text(json.dumps(definition))
    proc = subprocess.Popen([sys.executable, "-c", ENGINE, str(settings.store), str(tmp_path / "definition.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        while not (tmp_path / "job.pid").exists() and time.time() < deadline: time.sleep(0.1)
        assert (tmp_path / "job.pid").exists(), "the first run's step did not start"
        with pytest.raises(WorkbookError) as e:
            run_definition(training_definition(), settings, progress=False)
        assert str(e.value) == (f"the store {settings.store.resolve()} is in use by a running execution (process {proc.pid}): "
                                "wait for it to finish, or set WORKBOOK_STORE to another folder")
        assert [r["PipelineExecutionId"] for r in list_executions(settings)] == ["killed-run"]  # the second never started
    finally:
        hold.unlink()
        proc.communicate(timeout=60)
    assert describe_execution(settings, "killed-run")["PipelineExecutionStatus"] == "Succeeded"
    assert run_definition(definition, settings, progress=False)["PipelineExecutionStatus"] == "Succeeded"  # free again

"""The pipeline definition: built offline for the local target (no network, no credentials) and under moto for the
sagemaker target; its steps, wiring, parameters, caching and determinism; the model-build CLIs."""
import io
import os
import json
import socket
import tarfile
from pathlib import Path

import pytest

from conftest import code_snapshot

from workbook import pipeline
from workbook.pipeline_run import _run_automl_job
from workbook.config import load_settings, s3_to_local
from workbook.local.checks import CheckHooks
from workbook.registry import register_model_package
from workbook.tuning import TUNING_SPEC, parameter_ranges, run_tuning_job

AWS_VARIABLES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                 "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"]
STEP_TYPES = {
    "PreprocessData": "Processing", "BaselineData": "Processing", "CheckDataBias": "ClarifyCheck", "ChooseTraining": "Condition",
    "TuneModel": "Tuning", "EvaluateTunedModel": "Processing", "CheckTunedAccuracy": "Condition",
    "RegisterTuned-RegisterModel": "RegisterModel", "FailOnTunedAccuracy": "Fail",
    "TrainModel": "Training", "EvaluateModel": "Processing", "CheckAccuracy": "Condition",
    "Register-RegisterModel": "RegisterModel", "FailOnAccuracy": "Fail",
    "ChooseAutoML": "Condition", "PrepareAutoMLData": "Processing", "RunAutoML": "AutoML",
    "EvaluateAutoMLModel": "Processing", "CheckAutoMLAccuracy": "Condition",
    "RegisterAutoML-RegisterModel": "RegisterModel", "FailOnAutoMLAccuracy": "Fail",
}
PREPROCESS_OUTPUT = "Steps.PreprocessData.ProcessingOutputConfig.Outputs['{}'].S3Output.S3Uri"
ACCURACY = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.EvaluateModel.PropertyFiles.EvaluationReport"},
                            "Path": "multiclass_classification_metrics.accuracy.value"}}


NETWORK_ATTEMPTS = []  # every connection or name lookup tried while the network is blocked


def _blocked(*args, **kwargs):
    NETWORK_ATTEMPTS.append(args[1:] if len(args) > 1 else args)
    raise OSError("network blocked by the test")


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    "No network, no AWS credentials or config files, a fresh store and a snapshot of the code folder."
    base = tmp_path_factory.mktemp("offline")
    code = code_snapshot(base)
    with pytest.MonkeyPatch.context() as mp:
        for name in AWS_VARIABLES: mp.delenv(name, raising=False)
        mp.setenv("AWS_CONFIG_FILE", str(base / "no-aws-config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(base / "no-aws-credentials"))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setattr(socket.socket, "connect", _blocked)
        mp.setattr(socket, "create_connection", _blocked)
        mp.setattr(socket, "getaddrinfo", _blocked)
        yield {"code": code, "base": base}


def _settings(base: Path, name: str, **overrides):
    return load_settings({}, store=base / name, **overrides)


@pytest.fixture(scope="module")
def built(offline):
    "The local target's definition (as text and dict) and the settings it was built with."
    settings = _settings(offline["base"], "store")
    text = pipeline.definition_json(settings, code_dir=offline["code"])
    assert NETWORK_ATTEMPTS == []
    return {"text": text, "definition": json.loads(text), "settings": settings}


@pytest.fixture(scope="module")
def steps(built):
    return {s["Name"]: s for s, _, _ in pipeline.flatten_steps(built["definition"])}


def test_step_names_and_types(steps):
    assert {name: s["Type"] for name, s in steps.items()} == STEP_TYPES


def test_top_level_steps_and_branches(built, steps):
    assert [s["Name"] for s in built["definition"]["Steps"]] == ["PreprocessData", "BaselineData", "CheckDataBias", "ChooseTraining", "ChooseAutoML"]
    automl = steps["ChooseAutoML"]["Arguments"]
    assert automl["Conditions"] == [{"Type": "Equals", "LeftValue": {"Get": "Parameters.UseAutoML"}, "RightValue": True}]
    assert [s["Name"] for s in automl["IfSteps"]] == ["PrepareAutoMLData", "RunAutoML", "EvaluateAutoMLModel", "CheckAutoMLAccuracy"]
    assert automl["ElseSteps"] == []
    choose = steps["ChooseTraining"]["Arguments"]
    assert choose["Conditions"] == [{"Type": "Equals", "LeftValue": {"Get": "Parameters.UseTuning"}, "RightValue": True}]
    assert [s["Name"] for s in choose["IfSteps"]] == ["TuneModel", "EvaluateTunedModel", "CheckTunedAccuracy"]
    assert [s["Name"] for s in choose["ElseSteps"]] == ["TrainModel", "EvaluateModel", "CheckAccuracy"]
    check = steps["CheckAccuracy"]["Arguments"]
    assert [s["Name"] for s in check["IfSteps"]] == ["Register-RegisterModel"]
    assert [s["Name"] for s in check["ElseSteps"]] == ["FailOnAccuracy"]


def test_parameters_and_defaults(built):
    params = {p["Name"]: (p["Type"], p["DefaultValue"]) for p in built["definition"]["Parameters"]}
    assert params == {
        "InputDataUrl": ("String", "s3://penguins-workbook/data/penguins.csv"),
        "ProcessingInstanceType": ("String", "ml.m5.xlarge"),
        "TrainingInstanceType": ("String", "ml.m5.xlarge"),
        "AccuracyThreshold": ("Float", 0.95),
        "UseTuning": ("Boolean", False),
        "MaxTuningJobs": ("Integer", TUNING_SPEC.max_jobs),
        "Epochs": ("Integer", pipeline.Hyperparameters().epochs),
        "ModelApprovalStatus": ("String", "PendingManualApproval"),
        "SkipDataBiasCheck": ("Boolean", True),
        "RegisterNewDataBiasBaseline": ("Boolean", True),
        "UseAutoML": ("Boolean", False),
    }


def test_parameter_defaults_follow_the_settings(offline):
    settings = _settings(offline["base"], "store-env", accuracy_threshold=0.8, bucket="other-bucket",
                         processing_instance_type="ml.c5.large")
    params = {p.name: p.default_value for p in pipeline.pipeline_parameters(settings).values()}
    assert params["AccuracyThreshold"] == 0.8
    assert params["InputDataUrl"] == "s3://other-bucket/data/penguins.csv"
    assert params["ProcessingInstanceType"] == "ml.c5.large"


def test_preprocessing_wiring(steps):
    args = steps["PreprocessData"]["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    assert inputs["input"]["S3Uri"] == {"Get": "Parameters.InputDataUrl"}
    assert inputs["input"]["LocalPath"] == "/opt/ml/processing/input"
    outputs = {o["OutputName"]: o["S3Output"]["LocalPath"] for o in args["ProcessingOutputConfig"]["Outputs"]}
    assert outputs == {n: f"/opt/ml/processing/{n}" for n in ["train", "validation", "test", "transformer", "baseline", "bias"]}
    assert args["ProcessingResources"]["ClusterConfig"]["InstanceType"] == {"Get": "Parameters.ProcessingInstanceType"}


def test_training_channels_and_hyperparameters(steps):
    args = steps["TrainModel"]["Arguments"]
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in args["InputDataConfig"]}
    assert channels == {n: {"Get": PREPROCESS_OUTPUT.format(n)} for n in ["train", "validation", "transformer"]}
    hp = args["HyperParameters"]
    assert hp["sagemaker_program"] == '"train.py"'
    assert hp["epochs"] == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.Epochs"}]}}
    assert "model_dir" not in hp and "DebugHookConfig" not in args
    assert args["AlgorithmSpecification"]["MetricDefinitions"] == pipeline.METRIC_DEFINITIONS
    assert args["OutputDataConfig"]["S3OutputPath"] == "s3://penguins-workbook/penguins-pipeline/models"


def test_tuning_objective_ranges_and_static_hyperparameters(steps):
    args = steps["TuneModel"]["Arguments"]
    config = args["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "val_accuracy"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": {"Get": "Parameters.MaxTuningJobs"},
                                        "MaxParallelTrainingJobs": TUNING_SPEC.max_parallel_jobs}
    assert config["ParameterRanges"] == parameter_ranges(TUNING_SPEC)  # as the tuning module writes a request
    ranges = config["ParameterRanges"]
    assert [r["Name"] for r in ranges["IntegerParameterRanges"]] == ["epochs"]
    assert ranges["ContinuousParameterRanges"][0]["Name"] == "learning_rate"
    assert ranges["ContinuousParameterRanges"][0]["ScalingType"] == "Logarithmic"
    assert ranges["CategoricalParameterRanges"][0]["Name"] == "batch_size"
    assert config["Strategy"] == TUNING_SPEC.strategy and config["RandomSeed"] == 42
    static = args["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["sagemaker_program"] == '"train.py"' and "epochs" not in static
    assert args["HyperParameterTuningJobName"] == "penguins-tune"


def test_evaluation_reads_the_model_and_the_test_split(steps):
    def inputs(name):
        return {i["InputName"]: i["S3Input"] for i in steps[name]["Arguments"]["ProcessingInputs"]}
    trained = inputs("EvaluateModel")
    assert trained["model"]["S3Uri"] == {"Get": "Steps.TrainModel.ModelArtifacts.S3ModelArtifacts"}
    assert trained["model"]["LocalPath"] == "/opt/ml/processing/model"
    assert trained["test"]["S3Uri"] == {"Get": PREPROCESS_OUTPUT.format("test")}
    assert trained["test"]["LocalPath"] == "/opt/ml/processing/test"
    tuned = inputs("EvaluateTunedModel")["model"]["S3Uri"]
    assert tuned == {"Std:Join": {"On": "/", "Values": ["s3:/", "penguins-workbook", "penguins-pipeline/models",
                     {"Get": "Steps.TuneModel.TrainingJobSummaries[0].TrainingJobName"}, "output/model.tar.gz"]}}
    for name in ("EvaluateModel", "EvaluateTunedModel"):
        assert steps[name]["PropertyFiles"] == [{"PropertyFileName": "EvaluationReport", "OutputName": "evaluation",
                                                 "FilePath": "evaluation.json"}]


def test_gate_and_fail_message(steps):
    condition = steps["CheckAccuracy"]["Arguments"]["Conditions"]
    assert condition == [{"Type": "GreaterThanOrEqualTo", "LeftValue": ACCURACY,
                          "RightValue": {"Get": "Parameters.AccuracyThreshold"}}]
    message = steps["FailOnAccuracy"]["Arguments"]["ErrorMessage"]
    assert message == {"Std:Join": {"On": " ", "Values": ["accuracy", ACCURACY, "is below the threshold",
                                                            {"Get": "Parameters.AccuracyThreshold"}]}}


def test_register_step(steps):
    args = steps["Register-RegisterModel"]["Arguments"]
    assert args["ModelPackageGroupName"] == "penguins"
    assert args["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    (container,) = args["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == {"Get": "Steps.TrainModel.ModelArtifacts.S3ModelArtifacts"}
    assert "tensorflow-inference" in container["Image"]
    assert args["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv", "application/json"]
    evaluation = {"Get": "Steps.EvaluateModel.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"}
    assert args["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == {"Std:Join": {"On": "/", "Values": [evaluation, "evaluation.json"]}}
    baseline = {"Get": "Steps.BaselineData.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"}
    assert args["ModelMetrics"]["ModelDataQuality"]["Constraints"]["S3Uri"] == {"Std:Join": {"On": "/", "Values": [baseline, "constraints.json"]}}
    assert args["ModelMetrics"]["Bias"]["PreTrainingReport"]["S3Uri"] == {"Get": "Steps.CheckDataBias.CalculatedBaselineConstraints"}
    assert args["DriftCheckBaselines"]["Bias"]["PreTrainingConstraints"]["S3Uri"] == {"Get": "Steps.CheckDataBias.BaselineUsedForDriftCheckConstraints"}


def test_data_bias_check_step(built, steps):
    step = steps["CheckDataBias"]
    assert (step["CheckType"], step["ModelPackageGroupName"], step["FailOnViolation"]) == ("DATA_BIAS", "penguins", True)
    assert (step["SkipCheck"], step["RegisterNewBaseline"]) == ({"Get": "Parameters.SkipDataBiasCheck"}, {"Get": "Parameters.RegisterNewDataBiasBaseline"})
    inputs = {i["InputName"]: i["S3Input"] for i in step["Arguments"]["ProcessingInputs"]}
    assert inputs["dataset"]["S3Uri"] == {"Get": PREPROCESS_OUTPUT.format("bias")}
    assert inputs["dataset"]["LocalPath"] == "/opt/ml/processing/input/data"
    config = json.loads(s3_to_local(inputs["analysis_config"]["S3Uri"], built["settings"]).read_text())
    assert (config["label"], [f["name_or_index"] for f in config["facet"]], config["group_variable"]) == ("species", ["sex", "island"], "island")
    (out,) = step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert (out["OutputName"], out["S3Output"]["LocalPath"]) == ("analysis_result", "/opt/ml/processing/output")
    assert out["S3Output"]["S3Uri"] == {"Std:Join": {"On": "/", "Values": [
        "s3://penguins-workbook/penguins-pipeline/clarify/data-bias", {"Get": "Execution.PipelineExecutionId"}]}}


def test_baseline_step(steps):
    args = steps["BaselineData"]["Arguments"]
    assert args["AppSpecification"]["ContainerArguments"] == ["baseline"]
    (data,) = [i for i in args["ProcessingInputs"] if i["InputName"] == "baseline_dataset_input"]
    assert data["S3Input"] == {**data["S3Input"], "S3Uri": {"Get": PREPROCESS_OUTPUT.format("baseline")},
                               "LocalPath": "/opt/ml/processing/input/baseline_dataset_input"}
    (out,) = args["ProcessingOutputConfig"]["Outputs"]
    assert (out["OutputName"], out["S3Output"]["LocalPath"]) == ("baseline", "/opt/ml/processing/output")


def test_every_reference_names_an_existing_step_and_the_graph_is_acyclic(built, steps):
    edges = pipeline.pipeline_edges(built["definition"])
    assert {a for a, _, _ in edges} | {b for _, b, _ in edges} <= set(steps)
    for edge in [("PreprocessData", "BaselineData", ""), ("PreprocessData", "TrainModel", ""),
                 ("TrainModel", "EvaluateModel", ""), ("PreprocessData", "EvaluateModel", ""),
                 ("EvaluateModel", "CheckAccuracy", ""), ("BaselineData", "Register-RegisterModel", ""),
                 ("PreprocessData", "CheckDataBias", ""), ("CheckDataBias", "Register-RegisterModel", ""),
                 ("ChooseTraining", "TuneModel", "if"), ("ChooseTraining", "TrainModel", "else"),
                 ("CheckAccuracy", "Register-RegisterModel", "if"), ("CheckAccuracy", "FailOnAccuracy", "else")]:
        assert edge in edges, edge
    order = {}
    def depth(n, seen=()):
        assert n not in seen, f"cycle through {n}"
        if n not in order: order[n] = 1 + max((depth(a, (*seen, n)) for a, b, _ in edges if b == n), default=-1)
        return order[n]
    assert all(depth(n) >= 0 for n in steps)


def test_caching_and_job_names(steps):
    jobs = {"PreprocessData": "ProcessingJobName", "BaselineData": "ProcessingJobName", "EvaluateModel": "ProcessingJobName",
            "EvaluateTunedModel": "ProcessingJobName", "TrainModel": "TrainingJobName", "TuneModel": "HyperParameterTuningJobName"}
    for name, key in jobs.items():
        assert steps[name]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}, name
        assert steps[name]["Arguments"][key].startswith("penguins-"), name


def _tracking_split(text: str) -> tuple[str, list[dict]]:
    "The definition without its training jobs' `Environment` (the tracking settings), and those environments."
    definition, found = json.loads(text), []
    for step, _, _ in pipeline.flatten_steps(definition):
        args = step.get("Arguments") or {}
        for job in (args, args.get("TrainingJobDefinition") or {}):
            if "Environment" in job: found.append(job.pop("Environment"))
    return json.dumps(definition, sort_keys=True), found


def test_two_builds_give_the_same_json(offline, built):
    settings = _settings(offline["base"], "store-again")
    again, environments = _tracking_split(pipeline.definition_json(settings, code_dir=offline["code"]))
    assert again == _tracking_split(built["text"])[0]
    assert len(environments) == 2  # TrainModel and TuneModel's training jobs track where the launcher tracks
    assert all(e["WORKBOOK_STORE"] == str(settings.store.resolve()) and e["WORKBOOK_TARGET"] == "local" for e in environments)


ENTRY_SCRIPTS = {"PreprocessData": "preprocess.py", "BaselineData": "monitor.py", "EvaluateModel": "evaluate.py",
                 "EvaluateTunedModel": "evaluate.py", "TrainModel": "train.py", "TuneModel": "train.py",
                 "PrepareAutoMLData": "automl.py", "EvaluateAutoMLModel": "evaluate.py"}


def _training_program(step: dict) -> str:
    "The script a training step's jobs run (`sagemaker_program`), for a training or a tuning step."
    args = step["Arguments"]
    static = args["HyperParameters"] if step["Type"] == "Training" else args["TrainingJobDefinition"]["StaticHyperParameters"]
    return json.loads(static["sagemaker_program"])


def test_code_uploads_land_in_the_local_store(built, steps):
    settings = built["settings"]
    submit = json.loads(steps["TrainModel"]["Arguments"]["HyperParameters"]["sagemaker_submit_directory"])
    archive = s3_to_local(submit, settings)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert {"preprocess.py", "train.py", "evaluate.py", "monitor.py", "workbook/config.py"} <= set(names)
    assert not [n for n in names if "__pycache__" in n]
    for name in ("PreprocessData", "BaselineData", "EvaluateModel", "EvaluateTunedModel", "PrepareAutoMLData", "EvaluateAutoMLModel"):
        inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in steps[name]["Arguments"]["ProcessingInputs"]}
        assert inputs["code"] == submit
        runproc = s3_to_local(inputs["entrypoint"], settings).read_text()
        assert f'python {ENTRY_SCRIPTS[name]} "$@"' in runproc and "tar -xzf sourcedir.tar.gz" in runproc
    for name in ("TrainModel", "TuneModel"):
        assert _training_program(steps[name]) == ENTRY_SCRIPTS[name]


def test_entry_scripts_run_from_the_unpacked_archive_alone(built, steps, tmp_path):
    """Each step's script runs as the container runs it: `python SCRIPT` in the unpacked source folder, with the
    libraries on the path but not the workbook's editable install, and no module of the package edits `sys.path`."""
    import site
    import subprocess
    import sys
    submit = json.loads(steps["TrainModel"]["Arguments"]["HyperParameters"]["sagemaker_submit_directory"])
    with tarfile.open(s3_to_local(submit, built["settings"])) as tar:
        tar.extractall(tmp_path, filter="data")
        modules = [n for n in tar.getnames() if n.startswith("workbook/") and n.endswith(".py")]
    assert [m for m in modules if "sys.path" in (tmp_path / m).read_text() or "__package__" in (tmp_path / m).read_text()] == []
    libraries = os.pathsep.join(site.getsitepackages())  # PYTHONPATH adds folders without their .pth files (the editable install)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": libraries, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for script in sorted(set(ENTRY_SCRIPTS.values())):
        r = subprocess.run([sys.executable, "-S", script, *(["baseline"] if script == "monitor.py" else []), "--help"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (script, r.stderr[-2000:])
        assert r.stdout.startswith("usage: ")
    outside = subprocess.run([sys.executable, "-S", "-c", "import workbook"], cwd=tmp_path.parent, env=env,
                             capture_output=True, text=True)
    assert outside.returncode != 0  # the package came from the archive, not from the installed workbook


def test_get_pipeline_takes_the_template_kwargs(offline):
    settings = _settings(offline["base"], "store-kwargs")
    p = pipeline.get_pipeline(region="eu-west-1", role="arn:aws:iam::111111111111:role/r", default_bucket="bucket-x",
                              model_package_group_name="group-x", pipeline_name="pipe-x", base_job_prefix="prefix-x",
                              sagemaker_project_name="proj", settings=settings, code_dir=offline["code"])
    assert p.name == "pipe-x"
    found = {s["Name"]: s for s, _, _ in pipeline.flatten_steps(json.loads(p.definition()))}
    assert found["PreprocessData"]["Arguments"]["ProcessingJobName"] == "prefix-x-preprocess"
    assert found["PreprocessData"]["Arguments"]["RoleArn"] == "arn:aws:iam::111111111111:role/r"
    assert ".eu-west-1." in found["TrainModel"]["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    assert found["Register-RegisterModel"]["Arguments"]["ModelPackageGroupName"] == "group-x"
    assert (settings.s3_root / "bucket-x" / "pipe-x" / "code").is_dir()


def test_sagemaker_target_builds_the_same_definition_under_moto(offline, built, monkeypatch):
    from moto import mock_aws
    import boto3
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    settings = _settings(offline["base"], "store-moto", target="sagemaker")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=settings.bucket)
        p = pipeline.get_pipeline(settings=settings, code_dir=offline["code"])
        assert type(p.sagemaker_session) is pipeline.PipelineSession
        text = p.definition()
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket)["Contents"]]
    assert NETWORK_ATTEMPTS == []
    definition, environments = _tracking_split(text)
    assert definition == _tracking_split(built["text"])[0]
    assert environments == 2 * [{"WORKBOOK_TARGET": "sagemaker", "WORKBOOK_PIPELINE_NAME": settings.pipeline_name,
                                 "WORKBOOK_REGION": settings.region}]  # no tracking server configured: no store, no ARN
    assert any(k.endswith("/sourcedir.tar.gz") for k in keys) and any(k.endswith("/runproc.sh") for k in keys)
    assert not settings.s3_root.exists()


def test_get_pipeline_definition_cli(offline, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBOOK_STORE", str(tmp_path / "store"))
    out = tmp_path / "definition.json"
    pipeline.get_pipeline_definition_main(["-n", "workbook.pipeline", "-f", str(out), "--kwargs", "{'base_job_prefix': 'cli'}"])
    definition = json.loads(out.read_text())
    assert definition["Steps"][0]["Arguments"]["ProcessingJobName"] == "cli-preprocess"
    with pytest.raises(SystemExit) as e:
        pipeline.get_pipeline_definition_main(["-n", "workbook.no_such_module"])
    assert e.value.code == 1 and "cannot import" in capsys.readouterr().err


def test_run_pipeline_local_hands_the_definition_to_the_engine(offline, tmp_path, monkeypatch):
    import workbook.local.engine as engine
    calls = []
    def run_definition(definition, settings, parameters, **kwargs):
        calls.append((definition, settings, parameters, kwargs))
        return {"PipelineExecutionStatus": "Succeeded"}
    monkeypatch.setattr(engine, "run_definition", run_definition)
    monkeypatch.setenv("WORKBOOK_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("WORKBOOK_TARGET", "local")
    assert pipeline.run_pipeline_main(["-n", "workbook.pipeline", "--kwargs", '{"pipeline_name": "run-x"}']) == 0
    ((definition, settings, parameters, kwargs),) = calls
    assert [s["Name"] for s in definition["Steps"]] == ["PreprocessData", "BaselineData", "CheckDataBias", "ChooseTraining", "ChooseAutoML"]
    assert isinstance(kwargs.pop("checks"), CheckHooks)  # the workbook's hooks for the data-bias check
    assert kwargs == {"pipeline_name": "run-x", "resume": None, "tuner": run_tuning_job, "registry": register_model_package,
                      "automl": _run_automl_job,  # workbook.automl's runner, imported when a run has an AutoML step
                      "job_variables": None, "max_parallel": None}
    assert s3_to_local("s3://penguins-workbook/data/penguins.csv", settings).is_file()  # the input was staged
    monkeypatch.setattr(engine, "run_definition", lambda *a, **k: {"PipelineExecutionStatus": "Failed"})
    with pytest.raises(SystemExit) as e:
        pipeline.run_pipeline_main(["-n", "workbook.pipeline"])
    assert e.value.code == 1


def test_run_pipeline_on_sagemaker_needs_a_role(monkeypatch, capsys):
    monkeypatch.setenv("WORKBOOK_TARGET", "sagemaker")
    with pytest.raises(SystemExit) as e:
        pipeline.run_pipeline_main(["-n", "workbook.pipeline"])
    assert e.value.code == 2 and "usage: run-pipeline" in capsys.readouterr().out


def test_no_network_was_used(offline):
    assert NETWORK_ATTEMPTS == []


def test_run_pipeline_on_sagemaker_upserts_and_starts_under_moto(offline, tmp_path, monkeypatch, capsys):
    from moto import mock_aws
    import boto3
    from sagemaker.workflow.pipeline import _PipelineExecution
    waits = []
    monkeypatch.setattr(_PipelineExecution, "wait", lambda self, **kwargs: waits.append(kwargs))
    monkeypatch.setattr(_PipelineExecution, "list_steps", lambda self: [{"StepName": "PreprocessData", "StepStatus": "Succeeded"}])
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "WORKBOOK_TARGET": "sagemaker", "WORKBOOK_STORE": str(tmp_path / "store")}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="bucket-ci")
        code = pipeline.run_pipeline_main(["-n", "workbook.pipeline", "--role-arn", "arn:aws:iam::123456789012:role/pipelines",
                                           "--tags", '[{"Key": "sagemaker:project-name", "Value": "proj"}]',
                                           "--kwargs", '{"default_bucket": "bucket-ci", "pipeline_name": "proj-p-1"}'])
        sm = boto3.client("sagemaker", region_name="us-east-1")
        described = sm.describe_pipeline(PipelineName="proj-p-1")
        executions = sm.list_pipeline_executions(PipelineName="proj-p-1")["PipelineExecutionSummaries"]
    assert code == 0 and len(executions) == 1 and waits == [{"delay": 60, "max_attempts": 120}]
    assert described["RoleArn"] == "arn:aws:iam::123456789012:role/pipelines"
    assert json.loads(described["PipelineDefinition"])["Steps"][0]["Name"] == "PreprocessData"
    out = capsys.readouterr().out
    assert "Execution started with PipelineExecutionArn" in out and "PreprocessData" in out
    assert NETWORK_ATTEMPTS == []

"""The local engine runs ClarifyCheck steps with SageMaker's baseline rule (workbook.local.checks), on hand-written
definitions: the check job is a throwaway command, the hooks compare one number, and the registry is a recorder."""
import json

import pytest

from workbook.config import load_settings, s3_to_local
from workbook.local import engine
from workbook.local.checks import CheckHooks

BUCKET = "bkt"
CLARIFY_IMAGE = "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"
# the check job: writes analysis.json with the number of the `Value` parameter
JOB = ("import json, os, pathlib; out = pathlib.Path('/opt/ml/processing/output'); out.mkdir(parents=True, exist_ok=True); "
       "(out / 'analysis.json').write_text(json.dumps({'value': float(os.environ['VALUE'])}))")


def _check_step() -> dict:
    "A ClarifyCheck step as the SageMaker SDK renders a data-bias ClarifyCheckStep (its job reduced to one output)."
    uri = {"Std:Join": {"On": "/", "Values": ["s3:/", BUCKET, {"Get": "Execution.PipelineExecutionId"}, "bias"]}}
    return {"Name": "CheckDataBias", "Type": "ClarifyCheck", "Arguments": {
        "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": CLARIFY_IMAGE}, "RoleArn": "arn:aws:iam::000000000000:role/r",
        "Environment": {"VALUE": {"Get": "Parameters.Value"}}, "ProcessingInputs": [],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "analysis_result", "AppManaged": False, "S3Output": {
            "S3Uri": uri, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]}},
        "CheckType": "DATA_BIAS", "ModelPackageGroupName": "grp", "SkipCheck": {"Get": "Parameters.SkipCheck"},
        "FailOnViolation": True, "RegisterNewBaseline": {"Get": "Parameters.RegisterNewBaseline"},
        "SuppliedBaselineConstraints": None}


def _definition() -> dict:
    "Check, then register a version whose drift-check baseline is the one the check step hands on."
    register = {"Name": "Register", "Type": "RegisterModel", "Arguments": {
        "ModelPackageGroupName": "grp", "DriftCheckBaselines": {"Bias": {"PreTrainingConstraints": {
            "ContentType": "application/json", "S3Uri": {"Get": "Steps.CheckDataBias.BaselineUsedForDriftCheckConstraints"}}}},
        "ModelMetrics": {"Bias": {"PreTrainingReport": {
            "ContentType": "application/json", "S3Uri": {"Get": "Steps.CheckDataBias.CalculatedBaselineConstraints"}}}}}}
    return {"Version": "2020-12-01", "Parameters": [
        {"Name": "Value", "Type": "String", "DefaultValue": "0.1"},
        {"Name": "SkipCheck", "Type": "Boolean", "DefaultValue": False},
        {"Name": "RegisterNewBaseline", "Type": "Boolean", "DefaultValue": False}], "Steps": [_check_step(), register]}


@pytest.fixture
def setup(tmp_path):
    "Settings, the registered requests, and hooks: the latest registered baseline is the previous one."
    settings = load_settings({}, store=tmp_path / "store", pipeline_name="checks-test")
    registered = []
    def register(request, settings):
        registered.append(request)
        return {"ModelPackageArn": f"arn:aws:sagemaker:us-east-1:000000000000:model-package/grp/{len(registered)}"}
    def value(uri): return json.loads(s3_to_local(uri, settings).read_text())["value"]
    def compare(check_type, calculated, baseline):
        new, old = value(calculated["Constraints"]), value(baseline["Constraints"])
        return f"value {new} of {check_type} is farther from 0 than the baseline {old}" if abs(new) > abs(old) else None
    def latest(group, check_type):
        if not registered: return None
        return {"Constraints": registered[-1]["DriftCheckBaselines"]["Bias"]["PreTrainingConstraints"]["S3Uri"]}
    hooks = CheckHooks(entrypoint=lambda check_type: ["python3", "-c", JOB], compare=compare, latest_baselines=latest)
    run = lambda **params: engine.run_definition(_definition(), settings, params, progress=False, registry=register, checks=hooks)
    return settings, registered, run


def test_check_steps_need_hooks(tmp_path):
    settings = load_settings({}, store=tmp_path / "store", pipeline_name="checks-test")
    with pytest.raises(Exception, match="CheckDataBias' is a ClarifyCheck step: run_definition needs check hooks"):
        engine.run_definition(_definition(), settings, progress=False, registry=lambda r, s: {})


def test_first_run_registers_then_a_worse_value_fails_and_a_skipped_check_passes(setup):
    settings, registered, run = setup
    record = run()  # no previous baseline and the check not skipped: SageMaker's rule cannot check
    assert record["PipelineExecutionStatus"] == "Failed"
    assert "no previous baseline to check against" in record["FailureReason"]

    record = run(SkipCheck=True, RegisterNewBaseline=True)  # the first baseline
    assert record["PipelineExecutionStatus"] == "Succeeded", record["FailureReason"]
    first = registered[-1]["DriftCheckBaselines"]["Bias"]["PreTrainingConstraints"]["S3Uri"]
    assert first == f"s3://{BUCKET}/{record['PipelineExecutionId']}/bias/analysis.json"
    assert registered[-1]["ModelMetrics"]["Bias"]["PreTrainingReport"]["S3Uri"] == first
    step = next(s for s in record["Steps"] if s["StepName"] == "CheckDataBias")
    assert step["Metadata"]["ClarifyCheck"]["CalculatedBaselineConstraints"] == first

    record = run(Value="0.05")  # closer to 0: passes, and hands on the previous baseline
    assert record["PipelineExecutionStatus"] == "Succeeded", record["FailureReason"]
    assert registered[-1]["DriftCheckBaselines"]["Bias"]["PreTrainingConstraints"]["S3Uri"] == first
    assert registered[-1]["ModelMetrics"]["Bias"]["PreTrainingReport"]["S3Uri"] != first

    count = len(registered)
    record = run(Value="-0.3")  # farther from 0 than the baseline: the step fails with the comparison's message
    assert record["PipelineExecutionStatus"] == "Failed"
    assert "value -0.3 of DATA_BIAS is farther from 0 than the baseline 0.1" in record["FailureReason"]
    step = next(s for s in record["Steps"] if s["StepName"] == "CheckDataBias")
    assert step["StepStatus"] == "Failed" and len(registered) == count

    record = run(Value="-0.3", SkipCheck=True)  # skipped: no comparison
    assert record["PipelineExecutionStatus"] == "Succeeded", record["FailureReason"]

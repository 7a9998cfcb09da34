"""Model Monitor on the sagemaker target, without an account: every SageMaker request the monitoring code sends is
checked against the SageMaker API's request model (botocore's Stubber validates each call's parameters, and the test
validates each captured request again with `botocore.validate`); S3 is moto's. The `workbook monitor` commands on the
sagemaker target read and write the bucket, not the local store."""
import contextlib
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from moto import mock_aws

from conftest import code_snapshot, fake_aws_sagemaker_target
from workbook import monitoring
from workbook.config import DATA_FILE, FEATURES, WorkbookError, load_settings

REGION = "us-east-1"
BUCKET = "penguins-monitor-test"
ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/penguins-workbook"
NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
BASELINE_OUTPUT = f"s3://{BUCKET}/penguins-pipeline/abc123/BaselineData/output/baseline"


@pytest.fixture
def aws(tmp_path, monkeypatch):
    "Fake credentials, the sagemaker target with a test bucket, and moto's S3 with that bucket."
    fake_aws_sagemaker_target(monkeypatch, tmp_path, REGION, BUCKET, ROLE)
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield load_settings()
    assert not (tmp_path / "store").exists(), "the sagemaker target must not write the local store"


def _keys(prefix: str = "") -> list[str]:
    pages = boto3.client("s3", region_name=REGION).get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _get_json(key: str) -> dict:
    return json.loads(boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _baseline_frame() -> pd.DataFrame:
    return pd.read_csv(DATA_FILE).dropna(subset=FEATURES)[FEATURES].sample(200, random_state=0).reset_index(drop=True)


def _put_baseline(settings, tmp_path) -> dict:
    "The baseline step's output in S3, where the pipeline writes it; its statistics and constraints URIs."
    monitoring.suggest_baseline(_baseline_frame(), tmp_path / "baseline")
    monitoring.upload_s3(settings, tmp_path / "baseline", BASELINE_OUTPUT)
    return {"statistics": f"{BASELINE_OUTPUT}/statistics.json", "constraints": f"{BASELINE_OUTPUT}/constraints.json"}


# -- what the pipeline registers ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def registered_drift_baselines(tmp_path_factory):
    "DriftCheckBaselines of the pipeline's RegisterModel step, its baseline-step and bias-check references resolved."
    from workbook import pipeline
    base = tmp_path_factory.mktemp("definition")
    settings = load_settings({}, store=base / "store")
    definition = json.loads(pipeline.definition_json(settings, code_dir=code_snapshot(base)))
    (register,) = [s for s, _, _ in pipeline.flatten_steps(definition) if s["Name"] == "Register-RegisterModel"]
    baseline_ref = {"Get": "Steps.BaselineData.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"}

    bias_ref = {"Get": "Steps.CheckDataBias.BaselineUsedForDriftCheckConstraints"}  # the data-bias check's baseline
    bias_uri = f"s3://{settings.bucket}/{settings.pipeline_name}/clarify/data-bias/execution-1/analysis.json"

    def resolve(value):
        if value == bias_ref: return bias_uri
        if isinstance(value, dict) and "Std:Join" in value:
            join = value["Std:Join"]
            return join["On"].join(BASELINE_OUTPUT if v == baseline_ref else v for v in join["Values"])
        if isinstance(value, dict): return {k: resolve(v) for k, v in value.items()}
        return value
    baselines = resolve(register["Arguments"]["DriftCheckBaselines"])
    assert '"Get"' not in json.dumps(baselines) and '"Std:' not in json.dumps(baselines), baselines  # every reference resolved
    return baselines


# -- stubbed SageMaker client -------------------------------------------------------------------------------------------

class Recorder:
    "A SageMaker SDK session whose sagemaker client is stubbed; every request is recorded as (operation, params)."
    def __init__(self):
        from sagemaker.session import Session
        self.client = boto3.client("sagemaker", region_name=REGION)
        self.stubber = Stubber(self.client)
        self.requests = []
        self.client.meta.events.register("provide-client-params.sagemaker.*", self._record)
        self.session = Session(boto3.Session(region_name=REGION), sagemaker_client=self.client, default_bucket=BUCKET)

    def _record(self, params, model, **kwargs):
        self.requests.append((model.name, json.loads(json.dumps(params, default=str))))

    def respond(self, operation: str, response: dict | None = None): self.stubber.add_response(operation, response or {})

    def not_found(self, operation: str):
        self.stubber.add_client_error(operation, service_error_code="ResourceNotFound", service_message="not found", http_status_code=400)

    def operations(self) -> list[str]: return [name for name, _ in self.requests]

    def request(self, operation: str, n: int = 0) -> dict: return [p for name, p in self.requests if name == operation][n]

    def assert_all_valid(self):
        "Validate every recorded request against the operation's input shape (raises on an invalid one)."
        model = self.client.meta.service_model
        for name, params in self.requests:
            validate_parameters(params, model.operation_model(name).input_shape)


def _arn(kind: str, name: str) -> str: return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


def _expect_registry_lookups(rec: Recorder, settings, drift_baselines: dict, version: int = 3):
    "DescribeEndpoint -> DescribeEndpointConfig -> DescribeModelPackage of the served version."
    model = f"{settings.endpoint_name}-v{version}-1788000000"
    rec.respond("describe_endpoint", {"EndpointName": settings.endpoint_name, "EndpointArn": _arn("endpoint", settings.endpoint_name),
                                      "EndpointConfigName": model, "EndpointStatus": "InService", "CreationTime": NOW, "LastModifiedTime": NOW})
    rec.respond("describe_endpoint_config", {"EndpointConfigName": model, "EndpointConfigArn": _arn("endpoint-config", model),
                                             "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": model}], "CreationTime": NOW})
    group = settings.model_package_group
    rec.respond("describe_model_package", {
        "ModelPackageName": group, "ModelPackageGroupName": group, "ModelPackageVersion": version,
        "ModelPackageArn": _arn("model-package", f"{group}/{version}"), "CreationTime": NOW, "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []}, "ModelApprovalStatus": "Approved", "DriftCheckBaselines": drift_baselines})


def _expect_create(rec: Recorder, kind: str, settings):
    name = monitoring.schedule_names(settings)[kind]
    rec.not_found("describe_monitoring_schedule")
    rec.respond(f"create_{kind}_job_definition", {"JobDefinitionArn": _arn(f"{kind.replace('_', '-')}-job-definition", name)})
    rec.respond("create_monitoring_schedule", {"MonitoringScheduleArn": _arn("monitoring-schedule", name)})


CREATE_OPERATIONS = ["DescribeEndpoint", "DescribeEndpointConfig", "DescribeModelPackage",
                     "DescribeMonitoringSchedule", "CreateDataQualityJobDefinition", "CreateMonitoringSchedule",
                     "DescribeMonitoringSchedule", "CreateModelQualityJobDefinition", "CreateMonitoringSchedule"]


def test_the_registered_baselines_are_the_baseline_step_outputs(registered_drift_baselines):
    """What `registered_baselines` reads is what the pipeline's RegisterModel step registers."""
    assert monitoring.registered_baselines({"DriftCheckBaselines": registered_drift_baselines}) == {
        "statistics": f"{BASELINE_OUTPUT}/statistics.json", "constraints": f"{BASELINE_OUTPUT}/constraints.json"}


def test_schedule_requests_are_valid_sagemaker_requests(aws, tmp_path, registered_drift_baselines):
    settings = aws
    baselines = _put_baseline(settings, tmp_path)
    rec = Recorder()
    _expect_registry_lookups(rec, settings, registered_drift_baselines)
    _expect_create(rec, "data_quality", settings)
    _expect_create(rec, "model_quality", settings)
    with rec.stubber:
        created = monitoring.create_monitoring_schedules(settings, session=rec.session)
    rec.stubber.assert_no_pending_responses()
    assert rec.operations() == CREATE_OPERATIONS
    rec.assert_all_valid()

    assert rec.request("DescribeModelPackage")["ModelPackageName"] == _arn("model-package", f"{settings.model_package_group}/3")
    dq = rec.request("CreateDataQualityJobDefinition")
    assert dq["DataQualityBaselineConfig"] == {"ConstraintsResource": {"S3Uri": baselines["constraints"]},
                                               "StatisticsResource": {"S3Uri": baselines["statistics"]}}
    assert dq["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == settings.endpoint_name
    assert dq["DataQualityJobOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"] == f"s3://{BUCKET}/monitoring/schedules/data-quality"
    assert dq["RoleArn"] == ROLE
    mq = rec.request("CreateModelQualityJobDefinition")
    endpoint = mq["ModelQualityJobInput"]["EndpointInput"]
    assert (endpoint["InferenceAttribute"], endpoint["StartTimeOffset"], endpoint["EndTimeOffset"]) == ("predictions[*].species", "-PT2H", "-PT1H")
    assert "ProbabilityAttribute" not in endpoint
    assert mq["ModelQualityJobInput"]["GroundTruthS3Input"] == {"S3Uri": f"s3://{BUCKET}/ground-truth"}
    assert mq["ModelQualityAppSpecification"]["ProblemType"] == "MulticlassClassification"
    constraints_uri = mq["ModelQualityBaselineConfig"]["ConstraintsResource"]["S3Uri"]
    assert constraints_uri == f"s3://{BUCKET}/monitoring/schedules/model-quality-baseline/constraints.json"
    assert _get_json(constraints_uri.split(f"{BUCKET}/", 1)[1]) == monitoring.model_quality_constraints({"accuracy": settings.accuracy_threshold})

    schedules = [p for name, p in rec.requests if name == "CreateMonitoringSchedule"]
    assert [s["MonitoringScheduleName"] for s in schedules] == ["penguins-endpoint-data-quality", "penguins-endpoint-model-quality"]
    assert [s["MonitoringScheduleConfig"]["MonitoringType"] for s in schedules] == ["DataQuality", "ModelQuality"]
    assert [s["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] for s in schedules] == [dq["JobDefinitionName"], mq["JobDefinitionName"]]
    assert {s["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] for s in schedules} == {"cron(0 * ? * * *)"}
    assert [c["schedule"] for c in created] == ["penguins-endpoint-data-quality", "penguins-endpoint-model-quality"]
    assert created[0]["version"] == 3


def test_the_validation_rejects_an_invalid_request(aws, tmp_path, registered_drift_baselines):
    """The check has teeth: the recorded job definition with a missing role, or a wrong type, fails validation."""
    settings = aws
    _put_baseline(settings, tmp_path)
    rec = Recorder()
    _expect_registry_lookups(rec, settings, registered_drift_baselines)
    _expect_create(rec, "data_quality", settings)
    with rec.stubber: monitoring.create_data_quality_schedule(settings, session=rec.session)
    shape = rec.client.meta.service_model.operation_model("CreateDataQualityJobDefinition").input_shape
    request = rec.request("CreateDataQualityJobDefinition")
    validate_parameters(request, shape)
    with pytest.raises(ParamValidationError, match="RoleArn"):
        validate_parameters({k: v for k, v in request.items() if k != "RoleArn"}, shape)
    request["JobResources"]["ClusterConfig"]["InstanceCount"] = "one"
    with pytest.raises(ParamValidationError, match="InstanceCount"):
        validate_parameters(request, shape)


def test_an_explicit_version_skips_the_endpoint(aws, tmp_path, registered_drift_baselines):
    settings = aws
    _put_baseline(settings, tmp_path)
    rec = Recorder()
    rec.respond("describe_model_package", {
        "ModelPackageName": "penguins", "ModelPackageArn": _arn("model-package", "penguins/5"), "CreationTime": NOW,
        "ModelPackageStatus": "Completed", "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "DriftCheckBaselines": registered_drift_baselines})
    _expect_create(rec, "data_quality", settings)
    with rec.stubber: out = monitoring.create_data_quality_schedule(settings, version=5, session=rec.session)
    assert rec.operations() == ["DescribeModelPackage", "DescribeMonitoringSchedule", "CreateDataQualityJobDefinition", "CreateMonitoringSchedule"]
    rec.assert_all_valid()
    assert rec.request("DescribeModelPackage")["ModelPackageName"].endswith("model-package/penguins/5")
    assert out["version"] == 5


def test_an_existing_schedule_is_not_replaced(aws, tmp_path, registered_drift_baselines):
    settings = aws
    _put_baseline(settings, tmp_path)
    rec = Recorder()
    _expect_registry_lookups(rec, settings, registered_drift_baselines)
    name = "penguins-endpoint-data-quality"
    rec.respond("describe_monitoring_schedule", {
        "MonitoringScheduleArn": _arn("monitoring-schedule", name), "MonitoringScheduleName": name,
        "MonitoringScheduleStatus": "Scheduled", "CreationTime": NOW, "LastModifiedTime": NOW,
        "MonitoringScheduleConfig": {"MonitoringJobDefinitionName": "old", "MonitoringType": "DataQuality"}})
    with rec.stubber, pytest.raises(WorkbookError, match="exists: delete it first"):
        monitoring.create_data_quality_schedule(settings, session=rec.session)
    assert "CreateDataQualityJobDefinition" not in rec.operations()
    rec.assert_all_valid()


def test_a_version_without_a_baseline_is_one_clear_error(aws):
    settings = aws
    rec = Recorder()
    _expect_registry_lookups(rec, settings, {})
    with rec.stubber, pytest.raises(WorkbookError, match="has no data-quality baseline") as e:
        monitoring.create_data_quality_schedule(settings, session=rec.session)
    assert "\n" not in str(e.value)


def test_an_aws_error_is_one_line(aws):
    settings = aws
    rec = Recorder()
    rec.stubber.add_client_error("describe_endpoint", service_error_code="ValidationException",
                                 service_message="Could not find endpoint penguins-endpoint.")
    with rec.stubber, pytest.raises(WorkbookError) as e:
        monitoring.create_monitoring_schedules(settings, session=rec.session)
    assert str(e.value).startswith("SageMaker: An error occurred (ValidationException) when calling the DescribeEndpoint operation")
    assert "\n" not in str(e.value)


def test_delete_requests_are_valid_sagemaker_requests(aws):
    settings = aws
    rec = Recorder()
    for kind, monitoring_type in (("data_quality", "DataQuality"), ("model_quality", "ModelQuality")):
        name = monitoring.schedule_names(settings)[kind]
        rec.respond("describe_monitoring_schedule", {
            "MonitoringScheduleArn": _arn("monitoring-schedule", name), "MonitoringScheduleName": name,
            "MonitoringScheduleStatus": "Scheduled", "CreationTime": NOW, "LastModifiedTime": NOW,
            "MonitoringScheduleConfig": {"MonitoringJobDefinitionName": f"{name}-job", "MonitoringType": monitoring_type}})
        rec.respond("delete_monitoring_schedule")
        rec.not_found("describe_monitoring_schedule")
        rec.respond(f"delete_{kind}_job_definition")
    with rec.stubber: deleted = monitoring.delete_monitoring_schedules(settings, session=rec.session)
    rec.stubber.assert_no_pending_responses()
    rec.assert_all_valid()
    assert deleted == ["penguins-endpoint-data-quality", "penguins-endpoint-model-quality"]
    assert rec.request("DeleteModelQualityJobDefinition") == {"JobDefinitionName": "penguins-endpoint-model-quality-job"}


# -- the monitor commands on the sagemaker target -----------------------------------------------------------------------

def _cli(*argv) -> str:
    from workbook.cli import main
    with contextlib.redirect_stdout(io.StringIO()) as out: assert main(["monitor", *argv]) == 0
    return out.getvalue()


def _put_capture(settings, tmp_path):
    "Drifted traffic captured in two hours, with JSON answers, in the bucket's capture prefix."
    rows = monitoring.traffic_rows(240, drift=True, seed=7)
    species = ["Adelie", "Chinstrap", "Gentoo"]
    records = [monitoring.capture_record(r + "\n", json.dumps({"predictions": [{"species": species[i % 3]}]}),
                                         f"2026-09-01T{10 + i // 120:02d}:{i % 60:02d}:00Z", inference_id=f"req-{i}")
               for i, r in enumerate(rows)]
    monitoring.write_capture(records, tmp_path / "capture")
    return monitoring.upload_s3(settings, tmp_path / "capture", f"s3://{BUCKET}/datacapture")


def test_monitor_commands_read_and_write_s3(aws, tmp_path, registered_drift_baselines, monkeypatch):
    """The whole loop on the bucket. `monitor run` compares with the baseline registered with the deployed version
    (version 3, the BaselineData output), not with the newest baseline in the bucket (one of heavier penguins)."""
    settings = aws
    _put_baseline(settings, tmp_path)
    baseline_csv = tmp_path / "baseline.csv"
    _baseline_frame().assign(body_mass_g=lambda d: d.body_mass_g + 1500).to_csv(baseline_csv, index=False)
    boto3.client("s3", region_name=REGION).upload_file(str(baseline_csv), BUCKET, "penguins-pipeline/abc123/PreprocessData/output/baseline/baseline/baseline.csv")
    _put_capture(settings, tmp_path)

    out = _cli("baseline")
    assert f"baseline of s3://{BUCKET}/penguins-pipeline/abc123/PreprocessData/output/baseline/baseline/baseline.csv: 200 rows" in out
    assert _keys("monitoring/baseline/") == ["monitoring/baseline/constraints.json", "monitoring/baseline/statistics.json"]

    out = _cli("label", "--error-rate", "0.3", "--start", "2026-09-01T10:00:00Z", "--end", "2026-09-01T11:00:00Z")
    assert out.startswith(f"wrote ground truth for 120 predictions (error rate 0.3) into s3://{BUCKET}/ground-truth")
    assert _keys("ground-truth/") and all(k.startswith("ground-truth/2026/09/01/10/") for k in _keys("ground-truth/"))

    rec = Recorder()
    _expect_registry_lookups(rec, settings, registered_drift_baselines)
    monkeypatch.setattr(monitoring.aws, "sagemaker_session", lambda settings: rec.session)
    with rec.stubber: out = _cli("run", "--start", "2026-09-01T10:00:00Z", "--end", "2026-09-01T11:00:00Z")
    rec.assert_all_valid()
    assert rec.operations() == ["DescribeEndpoint", "DescribeEndpointConfig", "DescribeModelPackage"]
    assert out.startswith(f"baseline: registered with model version 3 ({BASELINE_OUTPUT})")
    assert "body_mass_g" in out and "data quality: 120 requests, 120 rows" in out and "model quality: 120 labelled rows" in out
    assert "baseline_drift_check" in out and "categorical_values_check" in out and "LessThanThreshold" in out
    run_uri = out.strip().splitlines()[-1].removeprefix("outputs: ")
    assert run_uri.startswith(f"s3://{BUCKET}/monitoring/runs/")
    run_prefix = run_uri.split(f"{BUCKET}/", 1)[1]
    assert {k.removeprefix(run_prefix + "/") for k in _keys(run_prefix + "/")} >= {
        "run.json", "data-quality/statistics.json", "data-quality/constraint_violations.json",
        "model-quality/statistics.json", "model-quality/constraint_violations.json", "model-quality/metrics_over_time.csv"}
    run = _get_json(f"{run_prefix}/run.json")
    assert (run["baseline"], run["model_version"], run["capture"]) == (BASELINE_OUTPUT, 3, f"s3://{BUCKET}/datacapture")
    assert _get_json(f"{run_prefix}/data-quality/statistics.json")["dataset"]["item_count"] == 120

    out = _cli("report", "--images", str(tmp_path / "img"))
    assert out.startswith(f"monitoring run {run_uri}") and "baseline_drift_check" in out
    assert (tmp_path / "img" / "monitoring_distributions.png").stat().st_size > 10_000
    assert (tmp_path / "img" / "monitoring_metrics.png").is_file()


def test_monitor_run_without_capture_in_the_window_is_one_line(aws, tmp_path, capsys):
    from workbook.cli import main
    settings = aws
    _put_baseline(settings, tmp_path)
    _put_capture(settings, tmp_path)
    with pytest.raises(SystemExit) as e: main(["monitor", "run", "--baseline", BASELINE_OUTPUT, "--start", "2030-01-01T00:00:00Z"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err == f"error: no captured data in s3://{BUCKET}/datacapture between 2030-01-01T00:00:00 and now\n"


def test_monitor_report_of_a_missing_run_is_one_line(aws, capsys):
    from workbook.cli import main
    with pytest.raises(SystemExit): main(["monitor", "report"])
    assert capsys.readouterr().err == f"error: no monitoring run under s3://{BUCKET}/monitoring/runs: run `workbook monitor run` first\n"


def test_monitor_schedule_command_uses_the_deployed_version(aws, tmp_path, registered_drift_baselines, monkeypatch):
    settings = aws
    _put_baseline(settings, tmp_path)
    rec = Recorder()
    _expect_registry_lookups(rec, settings, registered_drift_baselines, version=4)
    _expect_create(rec, "data_quality", settings)
    _expect_create(rec, "model_quality", settings)
    monkeypatch.setattr(monitoring.aws, "sagemaker_session", lambda settings: rec.session)
    with rec.stubber: out = _cli("schedule")
    rec.assert_all_valid()
    assert rec.operations() == CREATE_OPERATIONS
    assert out.splitlines()[0].startswith("created penguins-endpoint-data-quality: version 4, statistics s3://")
    assert out.splitlines()[1].startswith("created penguins-endpoint-model-quality: ")


def test_traffic_requests_are_valid_invoke_endpoint_requests(aws):
    settings = aws
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    requests = []
    runtime.meta.events.register("provide-client-params.sagemaker-runtime.*", lambda params, model, **kw: requests.append((model.name, dict(params))))
    stubber = Stubber(runtime)
    for _ in range(3): stubber.add_response("invoke_endpoint", {"Body": b'{"predictions": [{"species": "Adelie"}]}', "ContentType": "application/json"})
    with stubber: result = monitoring.send_traffic("sagemaker", 3, drift=True, client=monitoring.RuntimeClient(settings, runtime))
    stubber.assert_no_pending_responses()
    assert result == {"sent": 3, "ok": 3, "status": {200: 3}}
    shape = runtime.meta.service_model.operation_model("InvokeEndpoint").input_shape
    for name, params in requests: validate_parameters(params, shape)
    assert [(n, p["EndpointName"], p["ContentType"], p["Accept"]) for n, p in requests] == [
        ("InvokeEndpoint", "penguins-endpoint", "text/csv", "application/json")] * 3
    ids = [p["InferenceId"] for _, p in requests]
    run = ids[0].rsplit("-", 1)[0]
    assert run.startswith("drift-") and ids == [f"{run}-{i}" for i in range(3)]


def test_monitor_traffic_invokes_the_sagemaker_endpoint(aws):
    assert _cli("traffic", "-n", "3").strip() == "sent 3 normal requests to SageMaker endpoint penguins-endpoint: 200: 3"


def test_inference_ids_are_unique_across_runs(aws):
    """Two `monitor traffic` runs with the same seed send the same penguins under different inference ids."""
    settings = aws
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    ids = []
    runtime.meta.events.register("provide-client-params.sagemaker-runtime.*", lambda params, model, **kw: ids.append(params["InferenceId"]))
    stubber = Stubber(runtime)
    for _ in range(10): stubber.add_response("invoke_endpoint", {"Body": b'{"predictions": []}', "ContentType": "application/json"})
    with stubber:
        for _ in range(2): monitoring.send_traffic("sagemaker", 5, seed=42, client=monitoring.RuntimeClient(settings, runtime))
    assert len(set(ids)) == 10


# -- constraints.json as the SDK writes it ------------------------------------------------------------------------------

def _sdk_checks(settings, tmp_path, edit, drift: bool = True) -> set:
    """Edit the baseline's constraints.json through the SDK's `Constraints` (read from S3, changed, saved back to S3),
    then run the workbook's data-quality analysis on captured traffic against it: the (check, feature) pairs raised."""
    from sagemaker.model_monitor import Constraints
    from sagemaker.session import Session
    uris = _put_baseline(settings, tmp_path)
    session = Session(boto3.Session(region_name=REGION), default_bucket=BUCKET)
    constraints = Constraints.from_s3_uri(uris["constraints"], sagemaker_session=session)
    edit(constraints)
    constraints.save()
    monitoring.download_s3(settings, BASELINE_OUTPUT, tmp_path / "from-s3")
    rows = monitoring.traffic_rows(300, drift=drift, seed=3)
    monitoring.write_capture([monitoring.capture_record(r + "\n", None, f"2026-09-01T10:{i % 60:02d}:00Z") for i, r in enumerate(rows)],
                             tmp_path / "capture")
    monitoring.run_data_quality(tmp_path / "from-s3", tmp_path / "capture", tmp_path / "out")
    violations = json.loads((tmp_path / "out" / "constraint_violations.json").read_text())["violations"]
    return {(v["constraint_check_type"], v["feature_name"]) for v in violations}


def _distribution(**settings):
    "An SDK edit: set keys of `monitoring_config.distribution_constraints`."
    return lambda c: c.body_dict["monitoring_config"]["distribution_constraints"].update(settings)


DRIFTED = {("baseline_drift_check", "body_mass_g"), ("baseline_drift_check", "island"), ("categorical_values_check", "island")}


def test_sdk_constraints_unchanged_flag_the_drifted_traffic(aws, tmp_path):
    assert _sdk_checks(aws, tmp_path, lambda c: None) == DRIFTED


def test_sdk_set_monitoring_false_disables_every_check(aws, tmp_path):
    assert _sdk_checks(aws, tmp_path, lambda c: c.set_monitoring(False)) == set()


def test_sdk_feature_override_disables_one_feature(aws, tmp_path):
    def edit(c):
        c.set_monitoring(False, feature_name="island")
        assert next(f for f in c.body_dict["features"] if f["name"] == "island")["monitoring_config_overrides"] == {"evaluate_constraints": "Disabled"}
    assert _sdk_checks(aws, tmp_path, edit) == {("baseline_drift_check", "body_mass_g")}


def test_sdk_feature_override_threshold_applies_to_its_feature(aws, tmp_path):
    def edit(c):
        next(f for f in c.body_dict["features"] if f["name"] == "body_mass_g")["monitoring_config_overrides"] = {"comparison_threshold": 0.99}
    assert _sdk_checks(aws, tmp_path, edit) == DRIFTED - {("baseline_drift_check", "body_mass_g")}


def test_sdk_chi_squared_ignores_new_categories(aws, tmp_path):
    """ChiSquared compares the shares of the baseline's islands only: a new island is a domain violation, not drift."""
    assert _sdk_checks(aws, tmp_path, _distribution(categorical_drift_method="ChiSquared")) == DRIFTED - {("baseline_drift_check", "island")}


def test_sdk_linf_robust_forgives_sampling_noise(aws, tmp_path):
    """With a threshold of 0, normal traffic drifts under `linf_simple` and not under the documented `linf_robust`."""
    assert _sdk_checks(aws, tmp_path, _distribution(comparison_method="linf_robust", comparison_threshold=0.0), drift=False) == set()
    simple = _sdk_checks(aws, tmp_path / "simple", _distribution(comparison_method="linf_simple", comparison_threshold=0.0), drift=False)
    assert {check for check, _ in simple} == {"baseline_drift_check"}

"""`workbook cleanup` on the sagemaker target, under moto: what a course run creates on SageMaker (models and endpoint
configs named by `workbook deploy`, the endpoint, the pipeline, the model package group with its versions, monitoring
job definitions) is created in moto's SageMaker next to things the course did not create; cleanup must list exactly the
course's, ask, and delete them in a safe order.

moto 5 does not implement the monitoring-schedule operations (DescribeMonitoringSchedule, DeleteMonitoringSchedule),
DeleteModelPackage or DeleteModelPackageGroup: the `Unimplemented` helper answers those few operations for moto (from
its own small state, on the same client, after botocore has validated the request), and the tests say which answers
came from it. Every request the client sends is recorded and validated against botocore's SageMaker model."""
import contextlib
import os
import io
import json

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters
from moto import mock_aws

from conftest import fake_aws_sagemaker_target
from workbook.cleanup import cleanup, course_resources
from workbook.config import WorkbookError, load_settings

REGION, ACCOUNT = "us-east-1", "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/penguins-workbook"
BUCKET = "penguins-cleanup-test"
IMAGE = f"763104351884.dkr.ecr.{REGION}.amazonaws.com/tensorflow-inference:2.18-cpu"
OURS = ["penguins-endpoint-v1-1767225600", "penguins-endpoint-v2-1767229200"]
THEIRS = ["other-endpoint-v1-1767225600", "penguins-endpoint-v2-1767229200-copy"]


class Unimplemented:
    "Answers the SageMaker operations moto 5 lacks, for the clients of one session: monitoring schedules, DeleteModelPackage(Group)."
    def __init__(self, events):
        self.schedules, self.deleted, self.failing = {}, [], {}
        for op in ("DescribeMonitoringSchedule", "DeleteMonitoringSchedule", "DeleteModelPackage", "DeleteModelPackageGroup"):
            events.register(f"before-call.sagemaker.{op}", self._answer)

    def _answer(self, model, params, **kwargs):
        op, body = model.name, json.loads(params["body"])
        if op in self.failing: return self._error(self.failing[op], "not allowed")
        if op == "DescribeMonitoringSchedule":
            name = body["MonitoringScheduleName"]
            if name not in self.schedules: return self._error("ResourceNotFound", f"Monitoring Schedule {name} not found")
            return self._ok({"MonitoringScheduleArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:monitoring-schedule/{name}",
                             "MonitoringScheduleName": name, "MonitoringScheduleStatus": "Scheduled",
                             "CreationTime": 0, "LastModifiedTime": 0,
                             "MonitoringScheduleConfig": {"MonitoringJobDefinitionName": self.schedules[name]}})
        if op == "DeleteMonitoringSchedule": self.schedules.pop(body["MonitoringScheduleName"])
        self.deleted.append((op, next(iter(body.values()))))
        return self._ok({})

    def _ok(self, parsed): return AWSResponse("https://sagemaker", 200, {}, None), parsed

    def _error(self, code, message):
        return AWSResponse("https://sagemaker", 400, {}, None), {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}}


@pytest.fixture
def aws(tmp_path, monkeypatch):
    "Fake credentials and the sagemaker target; moto's SageMaker; a client whose every request is recorded."
    fake_aws_sagemaker_target(monkeypatch, tmp_path, REGION, BUCKET, ROLE)
    with mock_aws():
        boto3.setup_default_session(region_name=REGION)  # every client of the test, the command's too, is made from it
        try:
            events, requests, shapes = boto3.DEFAULT_SESSION.events, [], []
            def record(params, model, **kw):
                requests.append((model.name, json.loads(json.dumps(params, default=str)))); shapes.append(model.input_shape)
            events.register_last("before-parameter-build", record)  # after botocore fills idempotency tokens (same event, registered last)
            fake = Unimplemented(events)
            client = boto3.client("sagemaker", region_name=REGION)
            yield load_settings(), client, fake, requests
            assert requests, "no request was recorded"
            for (name, params), shape in zip(requests, shapes): validate_parameters(params, shape)  # each against its own service
        finally: boto3.DEFAULT_SESSION = None
    assert not (tmp_path / "store").exists(), "the sagemaker target must not write the local store"


def _course(client, fake, schedules=True):
    "What a course run leaves on SageMaker, and things next to it that are not the course's."
    for name in OURS + THEIRS:
        client.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
        client.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    client.create_endpoint(EndpointName="penguins-endpoint", EndpointConfigName=OURS[1])
    client.create_endpoint(EndpointName="other-endpoint", EndpointConfigName=THEIRS[0])
    for name in ("penguins-pipeline", "other-pipeline"):
        client.create_pipeline(PipelineName=name, RoleArn=ROLE,
                               PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}))
    for group in ("penguins", "other"):
        client.create_model_package_group(ModelPackageGroupName=group)
        for _ in range(2):
            client.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval",
                                        InferenceSpecification={"Containers": [{"Image": IMAGE}], "SupportedContentTypes": ["text/csv"],
                                                                "SupportedResponseMIMETypes": ["text/csv"]})
    if schedules:
        for kind in ("data-quality", "model-quality"):
            job = f"penguins-{kind}-job-definition"
            create = client.create_data_quality_job_definition if kind == "data-quality" else client.create_model_quality_job_definition
            app = "DataQualityAppSpecification" if kind == "data-quality" else "ModelQualityAppSpecification"
            job_input = "DataQualityJobInput" if kind == "data-quality" else "ModelQualityJobInput"
            endpoint_input = {"EndpointName": "penguins-endpoint", "LocalPath": "/opt/ml/processing/input/endpoint"}
            if kind == "model-quality": endpoint_input["InferenceAttribute"] = "0"
            output = "DataQualityJobOutputConfig" if kind == "data-quality" else "ModelQualityJobOutputConfig"
            request = {"JobDefinitionName": job, app: {"ImageUri": IMAGE}, job_input: {"EndpointInput": endpoint_input},
                       output: {"MonitoringOutputs": [{"S3Output": {"S3Uri": f"s3://{BUCKET}/monitoring", "LocalPath": "/opt/ml/processing/output"}}]},
                       "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
                       "RoleArn": ROLE}
            if kind == "model-quality":
                request[app]["ProblemType"] = "MulticlassClassification"
                request[job_input]["GroundTruthS3Input"] = {"S3Uri": f"s3://{BUCKET}/ground-truth"}
            create(**request)
            fake.schedules[f"penguins-endpoint-{kind}"] = job


def _packages(client, group):
    return [p["ModelPackageArn"] for p in client.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]]


def _run(settings, client, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()) as out: rc = cleanup(settings, client=client, **kwargs)
    return rc, out.getvalue().splitlines()


def test_lists_what_the_course_created(aws):
    settings, client, fake, _ = aws
    _course(client, fake)
    found, errors = course_resources(settings, client)
    assert errors == []
    assert found == [("monitoring schedule", "penguins-endpoint-data-quality"), ("monitoring schedule", "penguins-endpoint-model-quality"),
                     ("endpoint", "penguins-endpoint"), *[("endpoint config", n) for n in OURS], *[("model", n) for n in OURS],
                     ("pipeline", "penguins-pipeline"), *[("model package", a) for a in _packages(client, "penguins")],
                     ("model package group", "penguins")]


def test_no_answer_deletes_nothing(aws):
    settings, client, fake, requests = aws
    _course(client, fake)
    rc, out = _run(settings, client, stdin=io.StringIO(""))
    assert rc == 0
    assert out[0] == f"On SageMaker ({REGION}), the course created:"
    assert len(out) == 1 + 11 + 2 and out[-2] == "Delete these 11? [y/N] " and out[-1] == "nothing deleted"
    assert not [name for name, _ in requests if name.startswith("Delete")]
    assert fake.deleted == [] and len(fake.schedules) == 2


def test_yes_deletes_in_a_safe_order(aws):
    settings, client, fake, requests = aws
    _course(client, fake)
    packages = _packages(client, "penguins")
    rc, out = _run(settings, client, assume_yes=True)
    assert rc == 0
    deleted = out[out.index("deleted monitoring schedule penguins-endpoint-data-quality"):]
    assert deleted == ["deleted monitoring schedule penguins-endpoint-data-quality", "deleted monitoring schedule penguins-endpoint-model-quality",
                       "deleted endpoint penguins-endpoint", *[f"deleted endpoint config {n}" for n in OURS],
                       *[f"deleted model {n}" for n in OURS], "deleted pipeline penguins-pipeline",
                       *[f"deleted model package {a}" for a in packages], "deleted model package group penguins"]
    deletes = [name for name, _ in requests if name.startswith("Delete")]
    assert deletes == ["DeleteMonitoringSchedule", "DeleteDataQualityJobDefinition", "DeleteMonitoringSchedule",
                       "DeleteModelQualityJobDefinition", "DeleteEndpoint", "DeleteEndpointConfig", "DeleteEndpointConfig",
                       "DeleteModel", "DeleteModel", "DeletePipeline", "DeleteModelPackage", "DeleteModelPackage", "DeleteModelPackageGroup"]
    # moto's state: the course's endpoint, configs, models, pipeline and job definitions are gone, the rest is there
    assert [e["EndpointName"] for e in client.list_endpoints()["Endpoints"]] == ["other-endpoint"]
    assert sorted(c["EndpointConfigName"] for c in client.list_endpoint_configs()["EndpointConfigs"]) == sorted(THEIRS)
    assert sorted(m["ModelName"] for m in client.list_models()["Models"]) == sorted(THEIRS)
    assert [p["PipelineName"] for p in client.list_pipelines()["PipelineSummaries"]] == ["other-pipeline"]
    assert client.list_data_quality_job_definitions()["JobDefinitionSummaries"] == []
    assert client.list_model_quality_job_definitions()["JobDefinitionSummaries"] == []
    # the operations moto lacks were answered by the helper: these are the requests it received
    assert fake.schedules == {}
    assert fake.deleted == [("DeleteMonitoringSchedule", "penguins-endpoint-data-quality"),
                            ("DeleteMonitoringSchedule", "penguins-endpoint-model-quality"),
                            *[("DeleteModelPackage", a) for a in packages], ("DeleteModelPackageGroup", "penguins")]


def test_a_failure_skips_what_depends_on_it(aws):
    settings, client, fake, requests = aws
    _course(client, fake)
    fake.failing["DeleteMonitoringSchedule"] = "AccessDeniedException"
    rc, out = _run(settings, client, assume_yes=True)
    assert rc == 1
    first = 1 + 11  # after the list
    assert out[first:first + 5] == [
        "error: monitoring schedule penguins-endpoint-data-quality: Model Monitor: An error occurred (AccessDeniedException) when "
        "calling the DeleteMonitoringSchedule operation: not allowed",
        "error: monitoring schedule penguins-endpoint-model-quality: Model Monitor: An error occurred (AccessDeniedException) when "
        "calling the DeleteMonitoringSchedule operation: not allowed",
        "skipped endpoint penguins-endpoint: a monitoring schedule it depends on was not deleted",
        f"skipped endpoint config {OURS[0]}: a endpoint it depends on was not deleted",
        f"skipped endpoint config {OURS[1]}: a endpoint it depends on was not deleted"]
    assert out[first + 5:first + 7] == [f"deleted model {n}" for n in OURS]
    assert [e["EndpointName"] for e in client.list_endpoints()["Endpoints"]] == ["penguins-endpoint", "other-endpoint"]


def test_nothing_to_clean_up(aws):
    settings, client, _, requests = aws
    rc, out = _run(settings, client)
    assert rc == 0
    assert out == [f"found nothing of the course on SageMaker ({REGION}): endpoint penguins-endpoint, pipeline penguins-pipeline, "
                   "model package group penguins"]
    assert not [name for name, _ in requests if name.startswith("Delete")]


def test_the_command(aws, monkeypatch):
    "`workbook cleanup` with its own client, once answered with end of input, once with --yes."
    settings, client, fake, requests = aws
    _course(client, fake)
    from workbook.cli import main
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with contextlib.redirect_stdout(io.StringIO()) as out: rc = main(["cleanup"])
    assert (rc, out.getvalue().splitlines()[-1]) == (0, "nothing deleted")
    with contextlib.redirect_stdout(io.StringIO()) as out: rc = main(["cleanup", "--yes"])
    lines = out.getvalue().splitlines()
    assert rc == 0 and len([l for l in lines if l.startswith("deleted ")]) == 11 and lines[-1] == "deleted model package group penguins"
    # run again: all that is left is what moto cannot delete (the helper answered DeleteModelPackage(Group))
    with contextlib.redirect_stdout(io.StringIO()) as out: rc = main(["cleanup"])
    assert rc == 0 and [l.split()[:2] for l in out.getvalue().splitlines()[1:4]] == [["model", "package"]] * 2 + [["model", "package"]]
    assert out.getvalue().splitlines()[3].split() == ["model", "package", "group", "penguins"]


def test_no_credentials_is_one_line(tmp_path, monkeypatch):
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none")); monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = load_settings({"WORKBOOK_TARGET": "sagemaker", "WORKBOOK_REGION": REGION}, store=tmp_path / "store")
    with pytest.raises(WorkbookError, match=r"^cannot reach SageMaker: Unable to locate credentials$"):
        course_resources(settings, boto3.client("sagemaker", region_name=REGION))


def test_local_command_without_input_keeps_the_store(store):
    "`workbook cleanup` on the local target, as a console script with no input: the store stays; `--yes` deletes it."
    import subprocess
    from conftest import BIN, ROOT
    (store / "s3" / "penguins-workbook").mkdir(parents=True)
    run = lambda *args: subprocess.run([str(BIN / "workbook"), "cleanup", *args], capture_output=True, text=True, timeout=120,
                                       stdin=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "WORKBOOK_TARGET": "local"})
    r = run()
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines() == [f"Delete the local store {store.resolve()} (buckets, MLflow runs and registry, executions)? [y/N] ",
                                     f"kept the local store {store.resolve()}"]
    assert store.is_dir()
    r = run("--yes")
    assert (r.returncode, r.stdout, r.stderr) == (0, f"deleted the local store {store.resolve()}\n", "")
    assert not store.exists()


def test_deploy_on_approval_is_listed_and_deleted_first(aws):
    "The approval rule and Lambda function (workbook approval enable) are the course's too: listed, and deleted before anything else."
    from workbook.approval import enable_sagemaker
    settings, client, fake, requests = aws
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = boto3.client("iam").create_role(RoleName="penguins-deployer", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    enable_sagemaker(settings, role)
    _course(client, fake, schedules=False)
    rc, out = _run(settings, client, assume_yes=True)
    assert rc == 0, out
    assert out[1:3] == ["  approval rule        penguins-model-approval", "  approval function    penguins-deploy-on-approval"]
    deleted = [line for line in out if line.startswith("deleted ")]
    assert deleted[:2] == ["deleted approval rule penguins-model-approval", "deleted approval function penguins-deploy-on-approval"]
    assert boto3.client("events").list_rules()["Rules"] == [] and boto3.client("lambda").list_functions()["Functions"] == []
    assert [name for name, _ in requests if name in ("RemoveTargets", "DeleteRule", "DeleteFunction")] == ["RemoveTargets", "DeleteRule", "DeleteFunction"]

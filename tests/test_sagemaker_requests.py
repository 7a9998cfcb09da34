"""Every SageMaker request the deployment and registry code sends is valid for botocore's SageMaker service model.

Each test gives the code a real boto3 SageMaker client whose calls are answered by botocore's `Stubber`, in the order
SageMaker would see them (the stubbed answers are checked against the service model too). Every request is recorded
as the code built it and checked with `botocore.validate.validate_parameters` against its operation's input shape,
which is what the client would refuse before sending: missing required members, unknown members, wrong types, values
out of range. The pipeline's RegisterModel arguments are checked the same way as a CreateModelPackage request.
"""
import datetime
import json

import boto3
import pytest
from botocore.stub import ANY, Stubber
from botocore.validate import validate_parameters

REGION, ACCOUNT = "us-east-1", "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
GROUP = "penguins"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/3"


class Recorded:
    "A stubbed SageMaker client that records every request (operation name, parameters) as the caller built it."
    def __init__(self):
        self.client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
        self.stubber, self.requests = Stubber(self.client), []
        self.client.meta.events.register("provide-client-params.sagemaker.*", self._record)

    def _record(self, params, model, **kwargs):
        self.requests.append((model.name, json.loads(json.dumps(params, default=str))))

    def answer(self, operation: str, response: dict | None = None):
        self.stubber.add_response(operation, response or {}, None)

    def fail(self, operation: str, code: str = "ValidationException", message: str = "not found"):
        self.stubber.add_client_error(operation, service_error_code=code, service_message=message, http_status_code=400)

    def check(self, expected: list[str]):
        "Every recorded request is valid for its operation, and the operations are `expected`, in order."
        self.stubber.assert_no_pending_responses()
        assert [name for name, _ in self.requests] == expected
        for name, params in self.requests:
            validate_parameters(params, self.client.meta.service_model.operation_model(name).input_shape)


@pytest.fixture
def sm():
    recorded = Recorded()
    with recorded.stubber: yield recorded


@pytest.fixture
def settings(tmp_path):
    from workbook.config import load_settings
    return load_settings({"WORKBOOK_TARGET": "sagemaker", "WORKBOOK_ROLE": ROLE, "WORKBOOK_REGION": REGION,
                          "WORKBOOK_BUCKET": "penguins-bucket"}, store=tmp_path / "store")


ROW = {"version": 3, "arn": PACKAGE_ARN, "model_data_url": "s3://penguins-bucket/models/train/output/model.tar.gz"}
ENDPOINT = {"EndpointName": "penguins-endpoint", "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/penguins-endpoint",
            "EndpointConfigName": "c", "EndpointStatus": "InService", "CreationTime": NOW, "LastModifiedTime": NOW}


def _answer_deployment(sm, exists: bool, **failure):
    "The answers to CreateModel, CreateEndpointConfig, and DescribeEndpoint then UpdateEndpoint or CreateEndpoint."
    sm.answer("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/m"})
    sm.answer("create_endpoint_config", {"EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/c"})
    if exists:
        sm.answer("describe_endpoint", ENDPOINT)
        sm.answer("update_endpoint", {"EndpointArn": ENDPOINT["EndpointArn"]})
    else:
        sm.fail("describe_endpoint", **failure)
        sm.answer("create_endpoint", {"EndpointArn": ENDPOINT["EndpointArn"]})


@pytest.mark.parametrize("exists", [False, True], ids=["create", "update"])
def test_deploy_sagemaker_requests(sm, settings, exists):
    from workbook.deployment import deploy_sagemaker
    _answer_deployment(sm, exists, message="Could not find endpoint")
    sm.answer("describe_endpoint", ENDPOINT)  # the waiter
    out = deploy_sagemaker(settings, ROW, sampling_percentage=20, client=sm.client)
    sm.check(["CreateModel", "CreateEndpointConfig", "DescribeEndpoint", "UpdateEndpoint" if exists else "CreateEndpoint",
              "DescribeEndpoint"])
    model = sm.requests[0][1]
    assert model["Containers"] == [{"ModelPackageName": PACKAGE_ARN}] and model["ExecutionRoleArn"] == ROLE
    config = sm.requests[1][1]
    assert config["ProductionVariants"][0]["ModelName"] == model["ModelName"] == out["model_name"]
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == "s3://penguins-bucket/datacapture"



def test_deploy_sagemaker_with_explanations_requests(sm, settings):
    "The ExplainerConfig `workbook deploy --explanations` builds is a valid member of CreateEndpointConfig."
    from workbook.deployment import deploy_sagemaker
    from workbook.explanations import penguin_explainer_config
    _answer_deployment(sm, False, message="Could not find endpoint")
    sm.answer("describe_endpoint", ENDPOINT)  # the waiter
    explainer = penguin_explainer_config("[1]>`0.5`")
    deploy_sagemaker(settings, ROW, client=sm.client, explainer_config=explainer)
    sm.check(["CreateModel", "CreateEndpointConfig", "DescribeEndpoint", "CreateEndpoint", "DescribeEndpoint"])
    config = sm.requests[1][1]
    assert config["ExplainerConfig"] == explainer
    assert config["ExplainerConfig"]["ClarifyExplainerConfig"]["EnableExplanations"] == "[1]>`0.5`"

def test_transform_sagemaker_requests(sm, settings):
    from workbook.deployment import transform_sagemaker
    sm.answer("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/m"})
    sm.answer("create_transform_job", {"TransformJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/t"})
    sm.answer("describe_transform_job", {
        "TransformJobName": "t", "TransformJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/t",
        "TransformJobStatus": "Completed", "ModelName": "m", "CreationTime": NOW,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in.csv"}}},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}})
    out = transform_sagemaker(settings, ROW, "s3://penguins-bucket/in/new.csv", "s3://penguins-bucket/out/", client=sm.client)
    sm.check(["CreateModel", "CreateTransformJob", "DescribeTransformJob"])
    job = sm.requests[1][1]
    assert job["ModelName"] == sm.requests[0][1]["ModelName"] and job["DataProcessing"] == {"JoinSource": "Input"}
    assert out == "s3://penguins-bucket/out/"


@pytest.mark.parametrize("exists", [False, True], ids=["create", "update"])
def test_approval_lambda_requests(sm, monkeypatch, exists):
    "The Lambda function (workbook.approval, from its environment) reads the serving version, then deploys the approved package."
    from workbook.approval import handler
    monkeypatch.setattr(boto3, "client", lambda *a, **k: sm.client)
    for name, value in {"ENDPOINT_NAME": "penguins-endpoint", "ROLE_ARN": ROLE,
                        "CAPTURE_DESTINATION": "s3://penguins-bucket/datacapture"}.items(): monkeypatch.setenv(name, value)
    if exists: _answer_serving(sm, 2)
    else: sm.fail("describe_endpoint")
    _answer_deployment(sm, exists)
    event = {"detail": {"ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved", "ModelPackageArn": PACKAGE_ARN, "ModelPackageVersion": 3}}
    out = handler(event, None)
    serving = ["DescribeEndpoint", "DescribeEndpointConfig", "DescribeModel"] if exists else ["DescribeEndpoint"]
    sm.check(serving + ["CreateModel", "CreateEndpointConfig", "DescribeEndpoint", "UpdateEndpoint" if exists else "CreateEndpoint"])
    assert out == {"action": "deployed", "version": 3, "replaced": 2 if exists else None}
    create_model = sm.requests[len(serving)][1]
    assert create_model["Containers"] == [{"ModelPackageName": PACKAGE_ARN}] and create_model["ExecutionRoleArn"] == ROLE


def _answer_serving(sm, version: int):
    "The answers that tell which package version the endpoint serves."
    sm.answer("describe_endpoint", ENDPOINT)
    sm.answer("describe_endpoint_config", {"EndpointConfigName": "c", "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/c",
                                           "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m"}], "CreationTime": NOW})
    sm.answer("describe_model", {"ModelName": "m", "ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/m", "CreationTime": NOW,
                                 "Containers": [{"ModelPackageName": PACKAGE_ARN[:-1] + str(version)}]})


def test_rejecting_the_serving_version_rolls_back_requests(sm):
    "A rejection of the serving version lists the approved versions and deploys the newest other one."
    from workbook.approval import SageMakerEndpoint, handle_state_change
    _answer_serving(sm, 3)
    sm.answer("list_model_packages", {"ModelPackageSummaryList": [
        {"ModelPackageArn": PACKAGE_ARN[:-1] + str(v), "CreationTime": NOW, "ModelPackageStatus": "Completed"} for v in (1, 2)]})
    _answer_deployment(sm, True)
    endpoint = SageMakerEndpoint(sm.client, "penguins-endpoint", ROLE, "s3://penguins-bucket/datacapture")
    event = {"detail": {"ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Rejected", "ModelPackageArn": PACKAGE_ARN, "ModelPackageVersion": 3}}
    assert handle_state_change(event, endpoint) == {"action": "rolled back", "version": 2, "replaced": 3}
    sm.check(["DescribeEndpoint", "DescribeEndpointConfig", "DescribeModel", "ListModelPackages",
              "CreateModel", "CreateEndpointConfig", "DescribeEndpoint", "UpdateEndpoint"])
    assert sm.requests[3][1] == {"ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved"}
    assert sm.requests[4][1]["Containers"] == [{"ModelPackageName": PACKAGE_ARN[:-1] + "2"}]


def test_enable_sagemaker_requests(settings):
    "Installing deploy-on-approval: CreateFunction with the module's zip, PutRule, AddPermission, PutTargets, all valid."
    from workbook.approval import approval_event_pattern, enable_sagemaker
    clients, sent = {}, []
    for service in ("events", "lambda"):
        clients[service] = boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
        clients[service].meta.events.register(f"provide-client-params.{service}.*",
                                               lambda params, model, **kw: sent.append((model, dict(params))))
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:penguins-deploy-on-approval"
    rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/penguins-model-approval"
    with Stubber(clients["events"]) as events, Stubber(clients["lambda"]) as lam:
        lam.add_response("create_function", {"FunctionArn": fn_arn, "FunctionName": "penguins-deploy-on-approval"})
        events.add_response("put_rule", {"RuleArn": rule_arn})
        lam.add_response("add_permission", {"Statement": "{}"})
        events.add_response("put_targets", {"FailedEntryCount": 0, "FailedEntries": []})
        out = enable_sagemaker(settings, f"arn:aws:iam::{ACCOUNT}:role/penguins-deployer", clients["events"], clients["lambda"])
        events.assert_no_pending_responses(); lam.assert_no_pending_responses()
    assert [m.name for m, _ in sent] == ["CreateFunction", "PutRule", "AddPermission", "PutTargets"]
    for model, params in sent: validate_parameters(params, model.input_shape)
    create, rule, permission, targets = (p for _, p in sent)
    assert create["Handler"] == "approval.handler" and create["Environment"]["Variables"]["ROLE_ARN"] == ROLE
    assert json.loads(rule["EventPattern"]) == approval_event_pattern(GROUP)
    assert permission["SourceArn"] == rule_arn and permission["Principal"] == "events.amazonaws.com"
    assert targets["Targets"] == [{"Id": "deploy-on-approval", "Arn": fn_arn}]
    assert out == {"rule": rule_arn, "function": fn_arn}


def _described(version: int, status: str = "PendingManualApproval") -> dict:
    return {"ModelPackageName": GROUP, "ModelPackageGroupName": GROUP, "ModelPackageVersion": version,
            "ModelPackageArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/{version}",
            "CreationTime": NOW, "ModelPackageStatus": "Completed", "ModelApprovalStatus": status,
            "ModelPackageStatusDetails": {"ValidationStatuses": []},
            "InferenceSpecification": {"Containers": [{"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.18-cpu",
                                                       "ModelDataUrl": ROW["model_data_url"]}],
                                       "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["application/json"]}}


def _summary(version: int) -> dict:
    d = _described(version)
    return {k: d[k] for k in ("ModelPackageName", "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn",
                              "CreationTime", "ModelPackageStatus", "ModelApprovalStatus")}


def test_register_model_version_requests(sm, settings, monkeypatch):
    import workbook.registry as registry
    from workbook.config import TENSORFLOW_VERSION
    monkeypatch.setattr(registry, "_aws_client", lambda settings, service="s3": sm.client)
    group_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{GROUP}"
    sm.fail("describe_model_package_group")
    sm.answer("create_model_package_group", {"ModelPackageGroupArn": group_arn})
    sm.answer("describe_model_package_group", {"ModelPackageGroupName": GROUP, "ModelPackageGroupArn": group_arn,
                                               "CreationTime": NOW, "CreatedBy": {}, "ModelPackageGroupStatus": "Completed"})
    sm.answer("create_model_package", {"ModelPackageArn": _described(1)["ModelPackageArn"]})
    sm.answer("describe_model_package", _described(1))
    out = registry.register_model_version(settings, ROW["model_data_url"], "s3://penguins-bucket/evaluation/evaluation.json",
                                          metadata={"git_sha": "abc123"})
    sm.check(["DescribeModelPackageGroup", "CreateModelPackageGroup", "DescribeModelPackageGroup", "CreateModelPackage",
              "DescribeModelPackage"])
    request = sm.requests[3][1]
    assert request["InferenceSpecification"]["Containers"][0]["Image"].endswith(f"tensorflow-inference:{TENSORFLOW_VERSION}-cpu")
    assert out["ModelPackageVersion"] == 1


def test_list_and_approve_requests(sm, settings, monkeypatch):
    import workbook.registry as registry
    monkeypatch.setattr(registry, "_aws_client", lambda settings, service="s3": sm.client)
    monkeypatch.setattr(registry, "_accuracy_or_none", lambda settings, uri: None)
    sm.answer("list_model_packages", {"ModelPackageSummaryList": [_summary(1), _summary(2)]})
    sm.answer("describe_model_package", _described(1))
    sm.answer("describe_model_package", _described(2))
    rows = registry.list_model_versions(settings)
    assert [r["version"] for r in rows] == [1, 2]
    sm.answer("list_model_packages", {"ModelPackageSummaryList": [_summary(1), _summary(2)]})
    sm.answer("describe_model_package", _described(2))
    sm.answer("update_model_package", {"ModelPackageArn": _described(2)["ModelPackageArn"]})
    sm.answer("list_model_packages", {"ModelPackageSummaryList": [_summary(1), _summary(2)]})
    sm.answer("describe_model_package", _described(2, "Approved"))
    out = registry.update_approval(settings, 2, "Approved", "looks good")
    sm.check(["ListModelPackages", "DescribeModelPackage", "DescribeModelPackage",
              "ListModelPackages", "DescribeModelPackage", "UpdateModelPackage", "ListModelPackages", "DescribeModelPackage"])
    assert sm.requests[5][1] == {"ModelPackageArn": _described(2)["ModelPackageArn"], "ModelApprovalStatus": "Approved",
                                 "ApprovalDescription": "looks good"}
    assert out["ModelApprovalStatus"] == "Approved"


EXAMPLES = {"ModelApprovalStatus": "PendingManualApproval"}  # a value of each expression-valued member that is not a URI


def _placeholders(value, key: str = ""):
    "A definition's arguments with each pipeline expression ({'Get': ...}, {'Std:Join': ...}) replaced by a value."
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Get", "Std:Join", "Std:JsonGet"):
            return EXAMPLES.get(key, "s3://bucket/resolved/at/run/time")
        return {k: _placeholders(v, k) for k, v in value.items()}
    if isinstance(value, list): return [_placeholders(v, key) for v in value]
    return value


def test_pipeline_register_step_is_a_valid_create_model_package(tmp_path):
    import workbook.pipeline as pipeline
    from workbook.config import TENSORFLOW_VERSION, load_settings
    definition = json.loads(pipeline.definition_json(load_settings({}, store=tmp_path / "store")))
    registers = [s for s, _, _ in pipeline.flatten_steps(definition) if s["Type"] == "RegisterModel"]
    assert len(registers) == 3  # trained, tuned, AutoML
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    shape = client.meta.service_model.operation_model("CreateModelPackage").input_shape
    for step in registers:
        args = _placeholders(step["Arguments"])
        validate_parameters(args, shape)
        image = args["InferenceSpecification"]["Containers"][0]["Image"]
        assert image.endswith(f"/tensorflow-inference:{TENSORFLOW_VERSION}-cpu"), image
        assert "SAGEMAKER_SUBMIT_DIRECTORY" not in args["InferenceSpecification"]["Containers"][0].get("Environment", {})


def test_pipeline_automl_step_is_a_valid_create_auto_ml_job(tmp_path):
    "The AutoML step's arguments and `automl_job_request` are the same CreateAutoMLJob request, valid for botocore."
    import workbook.pipeline as pipeline
    from workbook.automl import AUTOML_SPEC, automl_job_request
    from workbook.config import load_settings
    definition = json.loads(pipeline.definition_json(load_settings({}, store=tmp_path / "store")))
    steps = [s for s, _, _ in pipeline.flatten_steps(definition) if s["Type"] == "AutoML"]
    assert [s["Name"] for s in steps] == ["RunAutoML"]
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    shape = client.meta.service_model.operation_model("CreateAutoMLJob").input_shape
    args = _placeholders(steps[0]["Arguments"])
    validate_parameters(args, shape)
    assert args["AutoMLJobConfig"]["Mode"] == "ENSEMBLING" and args["ProblemType"] == AUTOML_SPEC.problem_type
    own = automl_job_request(args["AutoMLJobName"], "s3://bucket/resolved/at/run/time", args["OutputDataConfig"]["S3OutputPath"],
                             args["RoleArn"])
    validate_parameters(own, shape)
    assert own == args


def test_deploy_sagemaker_variants_requests(sm, settings):
    "An A/B endpoint with a shadow: one model per version, weighted ProductionVariants and ShadowProductionVariants."
    from workbook.deployment import deploy_sagemaker
    from workbook.variants import VariantSpec
    v4 = {**ROW, "version": 4, "arn": PACKAGE_ARN[:-1] + "4"}
    sm.answer("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/m3"})
    _answer_deployment(sm, True)
    sm.answer("describe_endpoint", ENDPOINT)  # the waiter
    plan = [(VariantSpec("Current", "", 0.9), ROW), (VariantSpec("Candidate", "", 0.1), v4), (VariantSpec("Next", "", 1.0, True), v4)]
    out = deploy_sagemaker(settings, plan, client=sm.client)
    sm.check(["CreateModel", "CreateModel", "CreateEndpointConfig", "DescribeEndpoint", "UpdateEndpoint", "DescribeEndpoint"])
    models = {r[1]["Containers"][0]["ModelPackageName"]: r[1]["ModelName"] for r in sm.requests[:2]}
    assert set(models) == {PACKAGE_ARN, v4["arn"]}
    config = sm.requests[2][1]
    assert [(v["VariantName"], v["ModelName"], v["InitialVariantWeight"]) for v in config["ProductionVariants"]] == [
        ("Current", models[PACKAGE_ARN], 0.9), ("Candidate", models[v4["arn"]], 0.1)]
    assert [(v["VariantName"], v["ModelName"]) for v in config["ShadowProductionVariants"]] == [("Next", models[v4["arn"]])]
    assert [(v["name"], v["model_version"], v["shadow"]) for v in out["variants"]] == [
        ("Current", 3, False), ("Candidate", 4, False), ("Next", 4, True)]


def test_deploy_sagemaker_blue_green_update_requests(sm, settings):
    "An update with a canary and rollback alarms: valid PutMetricAlarm requests first, then UpdateEndpoint with its DeploymentConfig."
    from workbook.deployment import deploy_sagemaker
    from workbook.guardrails import Alarm, DeploymentConfig, TrafficRouting
    cloudwatch = boto3.client("cloudwatch", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    alarms_sent = []
    cloudwatch.meta.events.register("provide-client-params.cloudwatch.*", lambda params, model, **kw: alarms_sent.append((model.name, params)))
    alarms = (Alarm("penguins-5xx", "Invocation5XXErrors", 0), Alarm("penguins-p99", "ModelLatency", 50000, "p99"),
              Alarm("penguins-accuracy", "accuracy", 0.95, "Minimum", "LessThanThreshold"))
    config = DeploymentConfig(TrafficRouting("CANARY", 300, 10), 600, alarms)
    _answer_deployment(sm, True)
    sm.answer("describe_endpoint", ENDPOINT)  # the waiter
    with Stubber(cloudwatch) as cw:
        for _ in alarms: cw.add_response("put_metric_alarm", {}, None)
        deploy_sagemaker(settings, ROW, client=sm.client, deployment_config=config, cloudwatch=cloudwatch)
        cw.assert_no_pending_responses()
    sm.check(["CreateModel", "CreateEndpointConfig", "DescribeEndpoint", "UpdateEndpoint", "DescribeEndpoint"])
    update = sm.requests[3][1]
    assert update["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 10}
    assert update["DeploymentConfig"]["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": a.name} for a in alarms]}
    assert [p["AlarmName"] for _, p in alarms_sent] == ["penguins-5xx", "penguins-p99", "penguins-accuracy"]
    for name, params in alarms_sent:
        validate_parameters(params, cloudwatch.meta.service_model.operation_model(name).input_shape)
    for _, params in alarms_sent[:2]: assert {"Name": "EndpointName", "Value": "penguins-endpoint"} in params["Dimensions"]
    quality = alarms_sent[2][1]  # Model Monitor's model-quality metric, by endpoint and schedule
    assert (quality["Namespace"], quality["MetricName"], quality["ComparisonOperator"]) == (
        "aws/sagemaker/Endpoints/model-metrics", "accuracy", "LessThanThreshold")
    assert alarms_sent[1][1]["ExtendedStatistic"] == "p99" and "Statistic" not in alarms_sent[1][1]


def test_sagemaker_lineage_requests(sm, settings):
    "workbook lineage on SageMaker: ListArtifacts by the package ARN, QueryLineage both ways, a Describe per vertex; valid requests."
    from workbook.lineage import sagemaker_lineage
    art = lambda n: f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:artifact/{n}"
    tc = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:experiment-trial-component/penguins-train-abc-aws-training-job"
    model_uri = "s3://penguins-bucket/models/penguins-train-abc/output/model.tar.gz"
    sm.answer("list_artifacts", {"ArtifactSummaries": [{"ArtifactArn": art("pkg"), "Source": {"SourceUri": PACKAGE_ARN}}]})
    sm.answer("query_lineage", {"Vertices": [{"Arn": art("model"), "Type": "Model", "LineageType": "Artifact"},
                                             {"Arn": tc, "Type": "TrainingJob", "LineageType": "TrialComponent"}],
                                "Edges": [{"SourceArn": art("model"), "DestinationArn": art("pkg"), "AssociationType": "ContributedTo"},
                                          {"SourceArn": tc, "DestinationArn": art("model"), "AssociationType": "Produced"}]})
    sm.answer("describe_artifact", {"ArtifactArn": art("pkg"), "ArtifactType": "ModelPackage", "Source": {"SourceUri": PACKAGE_ARN}})
    sm.answer("describe_artifact", {"ArtifactArn": art("model"), "ArtifactType": "Model", "Source": {"SourceUri": model_uri}})
    sm.answer("describe_trial_component", {"TrialComponentArn": tc, "TrialComponentName": "penguins-train-abc-aws-training-job",
                                           "Source": {"SourceArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/penguins-train-abc",
                                                      "SourceType": "SageMakerTrainingJob"},
                                           "Parameters": {"epochs": {"StringValue": "40"}}})
    lines = sagemaker_lineage(settings, 3, client=sm.client)
    sm.check(["ListArtifacts", "QueryLineage", "DescribeArtifact", "DescribeArtifact", "DescribeTrialComponent"])
    assert sm.requests[0][1] == {"SourceUri": PACKAGE_ARN}
    assert sm.requests[1][1]["Direction"] == "Both" and sm.requests[1][1]["StartArns"] == [art("pkg")]
    assert lines[0] == "model package penguins/3"
    assert lines[1] == f"  <- model {model_uri}"
    assert lines[2].startswith('    <- training job penguins-train-abc') and '"epochs": "40"' in lines[2]

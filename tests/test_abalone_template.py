"""The SageMaker Projects model-build template (abalone) runs on the local target without AWS credentials."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.config import load_settings, s3_to_local
from workbook.registry import get_model_version

pytestmark = pytest.mark.slow  # whole-pipeline runs: `make test-slow` (CI runs it after `make test`)

ROOT = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/abalone-pipeline"

# pipelines/abalone/pipeline.py as the template's seed code writes it: its own sessions, a preprocess script that
# downloads its input itself, the XGBoost built-in algorithm, a ScriptProcessor on the XGBoost image, a ModelStep
PIPELINE = '''
import os

import boto3
import sagemaker
import sagemaker.session
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.functions import JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

BASE_DIR = os.path.dirname(os.path.realpath(__file__))


def get_sagemaker_client(region):
    return boto3.Session(region_name=region).client("sagemaker")


def get_pipeline_session(region, default_bucket):
    boto_session = boto3.Session(region_name=region)
    sagemaker_client = boto_session.client("sagemaker")
    return PipelineSession(boto_session=boto_session, sagemaker_client=sagemaker_client, default_bucket=default_bucket)


def get_pipeline(region, sagemaker_project_arn=None, role=None, default_bucket=None,
                 model_package_group_name="AbalonePackageGroup", pipeline_name="AbalonePipeline",
                 base_job_prefix="Abalone", processing_instance_type="ml.m5.xlarge",
                 training_instance_type="ml.m5.xlarge"):
    pipeline_session = get_pipeline_session(region, default_bucket)
    if role is None:
        role = sagemaker.session.get_execution_role(pipeline_session)
    processing_instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
    model_approval_status = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    input_data = ParameterString(name="InputDataUrl",
                                 default_value=f"s3://sagemaker-servicecatalog-seedcode-{region}/dataset/abalone-dataset.csv")
    mse_threshold = ParameterFloat(name="MseThreshold", default_value=6.0)

    sklearn_processor = SKLearnProcessor(framework_version="1.2-1", instance_type=processing_instance_type,
                                         instance_count=processing_instance_count,
                                         base_job_name=f"{base_job_prefix}/sklearn-abalone-preprocess",
                                         sagemaker_session=pipeline_session, role=role)
    step_args = sklearn_processor.run(
        outputs=[ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                 ProcessingOutput(output_name="validation", source="/opt/ml/processing/validation"),
                 ProcessingOutput(output_name="test", source="/opt/ml/processing/test")],
        code=os.path.join(BASE_DIR, "preprocess.py"), arguments=["--input-data", input_data])
    step_process = ProcessingStep(name="PreprocessAbaloneData", step_args=step_args)

    model_path = f"s3://{pipeline_session.default_bucket()}/{base_job_prefix}/AbaloneTrain"
    image_uri = sagemaker.image_uris.retrieve(framework="xgboost", region=region, version="1.0-1", py_version="py3",
                                              instance_type=training_instance_type)
    xgb_train = Estimator(image_uri=image_uri, instance_type=training_instance_type, instance_count=1,
                          output_path=model_path, base_job_name=f"{base_job_prefix}/abalone-train",
                          sagemaker_session=pipeline_session, role=role)
    xgb_train.set_hyperparameters(objective="reg:linear", num_round=50, max_depth=5, eta=0.2, gamma=4,
                                  min_child_weight=6, subsample=0.7, silent=0)
    outputs = step_process.properties.ProcessingOutputConfig.Outputs
    step_args = xgb_train.fit(inputs={
        "train": TrainingInput(s3_data=outputs["train"].S3Output.S3Uri, content_type="text/csv"),
        "validation": TrainingInput(s3_data=outputs["validation"].S3Output.S3Uri, content_type="text/csv")})
    step_train = TrainingStep(name="TrainAbaloneModel", step_args=step_args)

    script_eval = ScriptProcessor(image_uri=image_uri, command=["python3"], instance_type=processing_instance_type,
                                  instance_count=1, base_job_name=f"{base_job_prefix}/script-abalone-eval",
                                  sagemaker_session=pipeline_session, role=role)
    step_args = script_eval.run(
        inputs=[ProcessingInput(source=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                                destination="/opt/ml/processing/model"),
                ProcessingInput(source=outputs["test"].S3Output.S3Uri, destination="/opt/ml/processing/test")],
        outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
        code=os.path.join(BASE_DIR, "evaluate.py"))
    evaluation_report = PropertyFile(name="AbaloneEvaluationReport", output_name="evaluation", path="evaluation.json")
    step_eval = ProcessingStep(name="EvaluateAbaloneModel", step_args=step_args, property_files=[evaluation_report])

    evaluation_uri = step_eval.arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    model_metrics = ModelMetrics(model_statistics=MetricsSource(s3_uri=f"{evaluation_uri}/evaluation.json",
                                                                content_type="application/json"))
    model = Model(image_uri=image_uri, model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                  sagemaker_session=pipeline_session, role=role)
    step_args = model.register(content_types=["text/csv"], response_types=["text/csv"],
                               inference_instances=["ml.t2.medium", "ml.m5.large"], transform_instances=["ml.m5.large"],
                               model_package_group_name=model_package_group_name,
                               approval_status=model_approval_status, model_metrics=model_metrics)
    step_register = ModelStep(name="RegisterAbaloneModel", step_args=step_args)

    cond_lte = ConditionLessThanOrEqualTo(
        left=JsonGet(step_name=step_eval.name, property_file=evaluation_report, json_path="regression_metrics.mse.value"),
        right=mse_threshold)
    step_cond = ConditionStep(name="CheckMSEAbaloneEvaluation", conditions=[cond_lte], if_steps=[step_register],
                              else_steps=[])
    return Pipeline(name=pipeline_name,
                    parameters=[processing_instance_count, model_approval_status, input_data, mse_threshold],
                    steps=[step_process, step_train, step_eval, step_cond], sagemaker_session=pipeline_session)
'''

# preprocess.py as the template's: boto3 download, literal /opt/ml paths, everything under the main guard
PREPROCESS = '''
import argparse
import logging
import os
import pathlib

import boto3
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

logger = logging.getLogger()
logger.setLevel(logging.INFO)
logger.addHandler(logging.StreamHandler())

feature_columns_names = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight",
                         "viscera_weight", "shell_weight"]
label_column = "rings"

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-data", type=str, required=True)
    args = parser.parse_args()
    base_dir = "/opt/ml/processing"
    pathlib.Path(f"{base_dir}/data").mkdir(parents=True, exist_ok=True)
    input_data = args.input_data
    bucket = input_data.split("/")[2]
    key = "/".join(input_data.split("/")[3:])
    logger.info("Downloading data from bucket: %s, key: %s", bucket, key)
    fn = f"{base_dir}/data/abalone-dataset.csv"
    s3 = boto3.resource("s3")
    s3.Bucket(bucket).download_file(key, fn)
    df = pd.read_csv(fn)
    os.unlink(fn)
    numeric_features = feature_columns_names[1:]
    numeric_transformer = Pipeline(steps=[("imputer", SimpleImputer(strategy="median")), ("scaler", StandardScaler())])
    categorical_transformer = Pipeline(steps=[("imputer", SimpleImputer(strategy="constant", fill_value="missing")),
                                              ("onehot", OneHotEncoder(handle_unknown="ignore"))])
    preprocess = ColumnTransformer(transformers=[("num", numeric_transformer, numeric_features),
                                                 ("cat", categorical_transformer, ["sex"])])
    y = df.pop(label_column)
    X_pre = preprocess.fit_transform(df)
    y_pre = y.to_numpy().reshape(len(y), 1)
    X = np.concatenate((y_pre, X_pre), axis=1)
    np.random.shuffle(X)
    train, validation, test = np.split(X, [int(0.7 * len(X)), int(0.85 * len(X))])
    pd.DataFrame(train).to_csv(f"{base_dir}/train/train.csv", header=False, index=False)
    pd.DataFrame(validation).to_csv(f"{base_dir}/validation/validation.csv", header=False, index=False)
    pd.DataFrame(test).to_csv(f"{base_dir}/test/test.csv", header=False, index=False)
'''

# evaluate.py as the template's: pickle.load of xgboost-model (the 1.0-1 image pickles the Booster)
EVALUATE = '''
import json
import logging
import pathlib
import pickle
import tarfile

import numpy as np
import pandas as pd
import xgboost
from sklearn.metrics import mean_squared_error

logger = logging.getLogger()
logger.setLevel(logging.INFO)
logger.addHandler(logging.StreamHandler())

if __name__ == "__main__":
    model_path = "/opt/ml/processing/model/model.tar.gz"
    with tarfile.open(model_path) as tar:
        tar.extractall(path=".")
    model = pickle.load(open("xgboost-model", "rb"))
    test_path = "/opt/ml/processing/test/test.csv"
    df = pd.read_csv(test_path, header=None)
    y_test = df.iloc[:, 0].to_numpy()
    df.drop(df.columns[0], axis=1, inplace=True)
    X_test = xgboost.DMatrix(df.values)
    predictions = model.predict(X_test)
    mse = mean_squared_error(y_test, predictions)
    std = np.std(y_test - predictions)
    report_dict = {"regression_metrics": {"mse": {"value": mse, "standard_deviation": std}}}
    output_dir = "/opt/ml/processing/evaluation"
    pathlib.Path(output_dir).mkdir(parents=True, exist_ok=True)
    logger.info("Writing out evaluation report with mse: %f", mse)
    with open(f"{output_dir}/evaluation.json", "w") as f:
        f.write(json.dumps(report_dict))
'''


def _run_pipeline(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    "`run-pipeline` on the local target with no AWS credentials, the project folder on PYTHONPATH."
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PYTHONPATH=str(tmp_path / "project"), WORKBOOK_TARGET="local", HOME=str(tmp_path))
    return subprocess.run([str(Path(sys.executable).parent / "run-pipeline"), *args], env=env, capture_output=True,
                          text=True, timeout=1200, cwd=tmp_path)


def _execution(store: Path, pipeline: str) -> dict:
    "The one execution record of `pipeline` in the store."
    records = [json.loads(p.read_text()) for p in (store / "executions" / pipeline).glob("*/execution.json")]
    assert len(records) == 1, records
    return records[0]


def _registered_report(store: Path, group: str) -> tuple[dict, dict]:
    "Version 1 of `group` and the evaluation report its ModelQuality statistics point at."
    settings = load_settings()
    assert settings.store == store
    version = get_model_version(settings, 1, group=group)
    uri = version["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    return version, json.loads(s3_to_local(uri, settings).read_text())


def test_template_package_runs_locally_without_credentials(store, tmp_path):
    package = tmp_path / "project" / "pipelines" / "abalone"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    for name, text in (("pipeline.py", PIPELINE), ("preprocess.py", PREPROCESS), ("evaluate.py", EVALUATE)):
        (package / name).write_text(text)
    seed = store / "s3" / "sagemaker-servicecatalog-seedcode-us-east-1" / "dataset" / "abalone-dataset.csv"
    seed.parent.mkdir(parents=True)
    shutil.copyfile(ROOT / "data" / "abalone.csv", seed)
    kwargs = {"region": "us-east-1", "role": ROLE, "default_bucket": "abalone-artifacts"}
    r = _run_pipeline(tmp_path, "-n", "pipelines.abalone.pipeline", "-role-arn", ROLE, "-kwargs", json.dumps(kwargs))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    print(r.stdout[r.stdout.index("Execution "):])  # the step table, for the record
    record = _execution(store, "AbalonePipeline")
    assert record["PipelineExecutionStatus"] == "Succeeded", record
    assert {s["StepName"]: s["StepStatus"] for s in record["Steps"]} == {
        "PreprocessAbaloneData": "Succeeded", "TrainAbaloneModel": "Succeeded", "EvaluateAbaloneModel": "Succeeded",
        "CheckMSEAbaloneEvaluation": "Succeeded", "RegisterAbaloneModel-RegisterModel": "Succeeded"}
    version, report = _registered_report(store, "AbalonePackageGroup")
    assert version["ModelApprovalStatus"] == "PendingManualApproval"
    assert sorted(report["regression_metrics"]["mse"]) == ["standard_deviation", "value"]
    assert 0 < report["regression_metrics"]["mse"]["value"] <= 6.0
    assert version["ModelPackageDescription"] == f"Model version; test mse {report['regression_metrics']['mse']['value']:.4f}"
    train_log = next((store / "executions" / "AbalonePipeline").glob("*/logs/*TrainAbaloneModel*.log")).read_text()
    assert "\n[49]\ttrain-rmse:" in train_log
    assert list((store / "s3" / "abalone-artifacts" / "Abalone" / "AbaloneTrain").glob("*/output/model.tar.gz"))


def test_workbook_abalone_module_runs_locally(store, tmp_path):
    (tmp_path / "project").mkdir()
    r = _run_pipeline(tmp_path, "-n", "workbook.abalone", "-kwargs", json.dumps({"region": "us-east-1", "role": ROLE}))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    print(r.stdout[r.stdout.index("Execution "):])  # the step table, for the record
    record = _execution(store, "AbalonePipeline")
    assert record["PipelineExecutionStatus"] == "Succeeded", record
    version, report = _registered_report(store, "AbalonePackageGroup")
    assert version["ModelPackageDescription"] == "Abalone rings (XGBoost regression)"
    assert 0 < report["regression_metrics"]["mse"]["value"] <= 6.0
    staged = list((store / "s3").glob("*/Abalone/data/abalone.csv"))
    assert [p.read_bytes() for p in staged] == [(ROOT / "data" / "abalone.csv").read_bytes()]


def test_tuning_the_builtin_algorithm_on_its_own_metric(store):
    "A tuning job on the XGBoost algorithm: objective `validation:rmse`, no metric definitions of the user's."
    from workbook.local.engine import run_definition
    from workbook.tuning import run_tuning_job
    settings = load_settings()
    for channel, rows in (("train", range(0, 160)), ("validation", range(160, 200))):
        path = s3_to_local(f"s3://bkt/abalone/{channel}/{channel}.csv", settings)
        path.parent.mkdir(parents=True)
        path.write_text("".join(f"{i % 9 + 1},{i % 9 / 10},{(i * 7) % 5 / 5}\n" for i in rows))
    channel = lambda c: {"ChannelName": c, "ContentType": "text/csv", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": f"s3://bkt/abalone/{c}", "S3DataDistributionType": "FullyReplicated"}}}
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    tune = {"Name": "TuneAbaloneModel", "Type": "Tuning", "Arguments": {
        "HyperParameterTuningJobName": "abalone-tune",
        "HyperParameterTuningJobConfig": {"Strategy": "Random", "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
            "ParameterRanges": {"IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "4", "ScalingType": "Auto"}]}},
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "StaticHyperParameters": {"num_round": "10", "objective": "reg:squarederror"},
            "InputDataConfig": [channel("train"), channel("validation")], "OutputDataConfig": {"S3OutputPath": "s3://bkt/models"},
            "RoleArn": ROLE, "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "HyperParameterTuningResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}}}}
    record = run_definition({"Version": "2020-12-01", "Steps": [tune]}, settings, progress=False, tuner=run_tuning_job)
    assert record["PipelineExecutionStatus"] == "Succeeded", record
    tuned = json.loads((Path(record["ExecutionDir"]) / "steps" / "TuneAbaloneModel.json").read_text())["Properties"]
    objectives = [s["FinalHyperParameterTuningJobObjectiveMetric"] for s in tuned["TrainingJobSummaries"]]
    assert [o["MetricName"] for o in objectives] == ["validation:rmse", "validation:rmse"]
    assert [o["Value"] for o in objectives] == sorted(o["Value"] for o in objectives)
    best = tuned["BestTrainingJob"]["TrainingJobName"]
    assert s3_to_local(f"s3://bkt/models/{best}/output/model.tar.gz", settings).exists()


def test_definition_of_another_module_without_credentials(store, tmp_path):
    "`get-pipeline-definition` builds a module's definition on the local target as `run-pipeline` does: no credentials."
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(WORKBOOK_TARGET="local", HOME=str(tmp_path))
    out = tmp_path / "definition.json"
    r = subprocess.run([str(Path(sys.executable).parent / "get-pipeline-definition"), "-n", "workbook.abalone",
                        "-kwargs", json.dumps({"region": "us-east-1", "role": ROLE}), "-f", str(out)],
                       env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    steps = [s["Name"] for s in json.loads(out.read_text())["Steps"]]
    assert steps[:2] == ["PreprocessAbaloneData", "TrainAbaloneModel"], steps

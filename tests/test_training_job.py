"""The training step runs unmodified under the sagemaker-training toolkit, in the environment of SageMaker's TensorFlow
training image, with the shipped requirements.txt installed as the toolkit installs it."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from workbook.config import DATA_FILE, ROOT, SPECIES, TENSORFLOW_VERSION
from workbook.local.images import build_environment, image_environment
from workbook.local.jobs import job_environment
from workbook.preprocessing import preprocess
from workbook.training import METRIC_DEFINITIONS, parse_metrics

CHANNELS = ("train", "validation", "transformer")


@pytest.fixture(scope="module")
def channels(tmp_path_factory):
    "The preprocessing step's outputs for the bundled dataset."
    out = tmp_path_factory.mktemp("data")
    preprocess(DATA_FILE, out, seed=42)
    return out


def lay_out_job(job_dir: Path, channels: Path, hyperparameters: dict) -> Path:
    "A training job folder as SageMaker lays it out (`opt/ml`), with the code folder as submit directory."
    base = job_dir / "opt" / "ml"
    config = base / "input" / "config"
    config.mkdir(parents=True)
    hps = {"sagemaker_program": "train.py", "sagemaker_submit_directory": str(ROOT / "code"),
           "sagemaker_container_log_level": 20, "sagemaker_region": "us-east-1",
           "model_dir": "s3://penguins-workbook/jobs/model", **hyperparameters}  # the TF estimator adds model_dir
    (config / "hyperparameters.json").write_text(json.dumps({k: json.dumps(v) for k, v in hps.items()}))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {c: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"} for c in CHANNELS}))
    (config / "resourceconfig.json").write_text(json.dumps(
        {"current_host": "localhost", "hosts": ["localhost"], "current_instance_type": "local",
         "current_group_name": "homogeneousCluster", "network_interface_name": "eth0",
         "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": "local", "hosts": ["localhost"]}]}))
    for c in CHANNELS: shutil.copytree(channels / c, base / "input" / "data" / c)
    for folder in ("model", "output/data"): (base / folder).mkdir(parents=True)  # SageMaker creates these
    return base


TENSORFLOW_IMAGE = f"763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:{TENSORFLOW_VERSION}-cpu-py310"


def run_toolkit(base: Path, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    "Run `sagemaker_training.trainer.train()` on the job folder `base` in the training image's environment."
    python = build_environment(image_environment(TENSORFLOW_IMAGE), (ROOT / "code" / "requirements.txt").read_text())
    env = job_environment(base.parent.parent, python, "us-east-1",
                          {"TRAINING_JOB_NAME": "penguins-train-test", "TF_CPP_MIN_LOG_LEVEL": "2", **(extra_env or {})})
    return subprocess.run([str(python), "-c", "from sagemaker_training import trainer; trainer.train()"],
                          env=env, capture_output=True, text=True, timeout=600, cwd=base.parent)


@pytest.mark.slow
def test_training_job_under_toolkit(tmp_path, channels):
    store = tmp_path / "store"
    base = lay_out_job(tmp_path / "job", channels, {"epochs": 3, "batch_size": 16, "optimizer": "adam", "seed": 1})
    done = run_toolkit(base, {"WORKBOOK_TARGET": "local", "WORKBOOK_STORE": str(store)})
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert (base / "output" / "success").exists()
    model = base / "model"
    assert (model / "001" / "saved_model.pb").is_file() and (model / "001" / "variables").is_dir()
    assert json.loads((model / "classes.json").read_text()) == SPECIES
    assert (model / "transformer.joblib").is_file()
    assert [line.split()[0] for line in done.stdout.splitlines() if line.startswith(("epoch=", "final "))] == \
        ["epoch=1", "epoch=2", "epoch=3", "final"]
    metrics = parse_metrics(log, METRIC_DEFINITIONS)
    assert set(metrics) == {"loss", "accuracy", "val_loss", "val_accuracy"} and 0 <= metrics["val_accuracy"] <= 1

    import mlflow  # the run was tracked in the job's store, named after the job
    mlflow.set_tracking_uri(f"sqlite:///{store.resolve() / 'mlflow' / 'mlflow.db'}")
    (run,) = mlflow.search_runs(experiment_names=["penguins-pipeline"], output_format="list")
    assert run.info.run_name == "penguins-train-test" and run.info.status == "FINISHED"
    assert run.data.params["epochs"] == "3" and run.data.params["optimizer"] == "adam"
    assert len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "val_accuracy")) == 3
    assert run.data.metrics["final_val_accuracy"] == pytest.approx(metrics["val_accuracy"], abs=1e-4)
    artifacts = [a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "model")]
    assert "model/001" in artifacts and "model/transformer.joblib" in artifacts


def test_bad_hyperparameter_fails_the_job(tmp_path, channels):
    base = lay_out_job(tmp_path / "job", channels, {"epochs": -1})
    done = run_toolkit(base)
    assert done.returncode != 0
    message = "bad hyperparameters: epochs=-1: must be a whole number >= 1"
    assert f"error: {message}" in done.stdout + done.stderr
    assert (base / "output" / "failure").read_text() == message  # what DescribeTrainingJob reports as FailureReason
    assert not (base / "model" / "001").exists()

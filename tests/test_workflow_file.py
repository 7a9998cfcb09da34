"""The SageMaker deploy workflow (.github/workflows/train.yml): its structure, as GitHub Actions reads it."""
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "train.yml"
SECRETS = ["ARTIFACT_BUCKET", "AWS_REGION", "SAGEMAKER_PIPELINE_ROLE_ARN", "SAGEMAKER_PROJECT_NAME", "SAGEMAKER_PROJECT_ID"]


@pytest.fixture(scope="module")
def workflow():
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


@pytest.fixture(scope="module")
def steps(workflow):
    (job,) = workflow["jobs"].values()
    return job["steps"]


def _run_step(steps):
    "The step that calls run-pipeline."
    (step,) = [s for s in steps if "run-pipeline" in s.get("run", "")]
    return step


def test_triggers_on_push_to_main_and_by_hand(workflow):
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in workflow["on"]


def test_permissions_allow_oidc_and_nothing_more(workflow):
    assert workflow["permissions"] == {"id-token": "write", "contents": "read"}


def test_secrets_reach_the_environment(workflow):
    for name in SECRETS:
        assert workflow["env"][name] == "${{ secrets.%s }}" % name, name
    assert workflow["env"]["WORKBOOK_TARGET"] == "sagemaker"


def test_assumes_a_role_with_oidc_before_running(steps):
    uses = [s.get("uses", "") for s in steps]
    i = next(i for i, u in enumerate(uses) if u.startswith("aws-actions/configure-aws-credentials@"))
    creds = steps[i]["with"]
    assert creds["role-to-assume"].startswith("${{ secrets.") and "aws-access-key-id" not in creds
    assert creds["aws-region"] == "${{ secrets.AWS_REGION }}"
    assert uses[0].startswith("actions/checkout@")
    assert i < steps.index(_run_step(steps))


def test_installs_only_what_building_and_submitting_the_pipeline_needs(steps):
    install = " ".join(s.get("run", "") for s in steps[: steps.index(_run_step(steps))])
    assert "-r requirements/pipeline.txt" in install and "--no-deps -e ." in install
    pinned = {line.split("==")[0] for line in (ROOT / "requirements" / "pipeline.txt").read_text().splitlines() if "==" in line}
    assert {"sagemaker", "awswrangler"} <= pinned
    assert not pinned & {"tensorflow-cpu", "tensorflow", "mlflow", "moto", "jupyterlab", "pytest"}


@pytest.mark.slow
def test_the_pipeline_set_builds_the_definition(tmp_path):
    "A virtual environment with only requirements/pipeline.txt and the package builds the pipeline definition."
    import subprocess, sys
    uv, venv = Path(sys.executable).parent / "uv", tmp_path / "venv"
    for args in (["venv", "--quiet", "--python", sys.executable, str(venv)],
                 ["pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "-r", str(ROOT / "requirements" / "pipeline.txt")],
                 ["pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "--no-deps", "-e", str(ROOT)]):
        r = subprocess.run([str(uv), *args], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    r = subprocess.run([str(venv / "bin" / "get-pipeline-definition"), "-n", "workbook.pipeline"], capture_output=True, text=True,
                       cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "WORKBOOK_STORE": str(tmp_path / "store"), "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert [s["Name"] for s in json.loads(r.stdout)["Steps"]] == ["PreprocessData", "BaselineData", "CheckDataBias", "ChooseTraining",
                                                               "ChooseAutoML"]


def test_runs_the_pipeline_module_with_the_template_arguments(steps):
    script = _run_step(steps)["run"].replace("\\\n", " ")
    command = next(line for line in script.splitlines() if line.strip().startswith("run-pipeline"))
    env = {"SAGEMAKER_PROJECT_NAME_ID": "proj-p-1", "AWS_REGION": "eu-west-1", "ARTIFACT_BUCKET": "bucket-1",
           "SAGEMAKER_PIPELINE_ROLE_ARN": "arn:aws:iam::1:role/r", "SAGEMAKER_PROJECT_NAME": "proj", "SAGEMAKER_PROJECT_ID": "p-1",
           "GITHUB_SHA": "abc"}
    expanded = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), m.group(0)), command)
    args = shlex.split(expanded)
    opts = dict(zip(args[1::2], args[2::2]))
    assert opts["--module-name"] == "workbook.pipeline"
    assert opts["--role-arn"] == "arn:aws:iam::1:role/r"
    kwargs = json.loads(opts["--kwargs"])
    assert kwargs == {"region": "eu-west-1", "role": "arn:aws:iam::1:role/r", "default_bucket": "bucket-1",
                      "pipeline_name": "proj-p-1", "model_package_group_name": "proj-p-1", "base_job_prefix": "proj-p-1"}
    assert json.loads(opts["--tags"]) == [{"Key": "sagemaker:project-name", "Value": "proj"},
                                          {"Key": "sagemaker:project-id", "Value": "p-1"}]


def test_run_pipeline_accepts_those_arguments():
    from workbook.pipeline import _run_parser
    args = _run_parser().parse_args(["--module-name", "workbook.pipeline", "--role-arn", "arn:aws:iam::1:role/r",
                                     "--tags", "[]", "--description", "d", "--kwargs", "{}"])
    assert (args.module_name, args.role_arn, args.description) == ("workbook.pipeline", "arn:aws:iam::1:role/r", "d")

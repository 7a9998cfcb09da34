"""The local AWS endpoint: boto3 and the SageMaker SDK against the store folder, with no AWS credentials."""
import http.client
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
from botocore.exceptions import ClientError

from workbook.config import load_settings
from workbook.local.aws import local_aws

BUCKET = "penguins-workbook"


@pytest.fixture
def aws(store, monkeypatch):
    "A local AWS endpoint over a fresh store, with no real credentials in the environment."
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(k, raising=False)
    settings = load_settings()
    with local_aws(settings) as server:
        yield server, settings.s3_root


def test_client_round_trip_both_ways(aws):
    server, root = aws
    placed = root / BUCKET / "data" / "penguins.csv"
    placed.parent.mkdir(parents=True)
    placed.write_text("species,island\nAdelie,Dream\n")
    s3 = boto3.client("s3")
    assert s3.get_object(Bucket=BUCKET, Key="data/penguins.csv")["Body"].read() == placed.read_bytes()
    s3.put_object(Bucket=BUCKET, Key="out/a/report.json", Body=b'{"ok": true}')
    assert (root / BUCKET / "out" / "a" / "report.json").read_bytes() == b'{"ok": true}'
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert listed == ["data/penguins.csv", "out/a/report.json"]
    assert [p["Prefix"] for p in s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")["CommonPrefixes"]] == ["data/", "out/"]


def test_store_changes_are_seen(aws):
    server, root = aws
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="other-bucket")
    assert (root / "other-bucket").is_dir()
    path = root / "other-bucket" / "k.txt"
    path.write_text("one")
    assert s3.get_object(Bucket="other-bucket", Key="k.txt")["Body"].read() == b"one"
    path.write_text("second")
    assert s3.get_object(Bucket="other-bucket", Key="k.txt")["Body"].read() == b"second"
    path.unlink()
    with pytest.raises(ClientError, match="NoSuchKey"):
        s3.get_object(Bucket="other-bucket", Key="k.txt")
    assert s3.list_objects_v2(Bucket="other-bucket")["KeyCount"] == 0


def test_resource_download_upload_copy_delete(aws, tmp_path):
    server, root = aws
    (root / BUCKET / "in").mkdir(parents=True)
    (root / BUCKET / "in" / "x.csv").write_text("1,2\n")
    bucket = boto3.resource("s3").Bucket(BUCKET)
    bucket.download_file("in/x.csv", str(tmp_path / "x.csv"))
    assert (tmp_path / "x.csv").read_text() == "1,2\n"
    big = os.urandom(12 * 1024 * 1024)  # above boto3's multipart threshold (8 MB)
    (tmp_path / "big.bin").write_bytes(big)
    bucket.upload_file(str(tmp_path / "big.bin"), "model/big.bin")
    assert (root / BUCKET / "model" / "big.bin").read_bytes() == big
    bucket.copy({"Bucket": BUCKET, "Key": "in/x.csv"}, "copied/x.csv")
    assert (root / BUCKET / "copied" / "x.csv").read_text() == "1,2\n"
    bucket.Object("copied/x.csv").delete()
    assert not (root / BUCKET / "copied").exists()
    bucket.objects.filter(Prefix="model/").delete()
    assert not (root / BUCKET / "model").exists()


def test_sagemaker_session_calls(aws, tmp_path):
    import sagemaker
    from sagemaker.workflow.pipeline_context import PipelineSession
    server, root = aws
    boto_session = boto3.Session(region_name="us-east-1")
    session = PipelineSession(boto_session=boto_session, sagemaker_client=boto_session.client("sagemaker"))
    bucket = session.default_bucket()  # STS GetCallerIdentity, then HeadBucket/CreateBucket
    assert bucket == "sagemaker-us-east-1-123456789012"
    assert (root / bucket).is_dir()
    assert sagemaker.Session().default_bucket() == bucket
    (tmp_path / "preprocess.py").write_text("print('hello')\n")
    uri = session.upload_data(str(tmp_path / "preprocess.py"), key_prefix="abalone/code")
    assert uri == f"s3://{bucket}/abalone/code/preprocess.py"
    assert (root / bucket / "abalone" / "code" / "preprocess.py").read_text() == "print('hello')\n"


def test_subprocess_with_only_the_returned_environment(aws, tmp_path):
    server, root = aws
    (root / BUCKET / "input").mkdir(parents=True)
    (root / BUCKET / "input" / "abalone.csv").write_text("M,0.455,15\n")
    script = ("import boto3; boto3.resource('s3').Bucket('penguins-workbook')"
              f".download_file('input/abalone.csv', {str(tmp_path / 'got.csv')!r})")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **server.environment}
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "got.csv").read_text() == "M,0.455,15\n"


def _raw(server, method, path):
    "Send a raw S3-signed-looking request, bypassing boto3's own checks; return (status, body)."
    u = urlparse(server.endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    auth = "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
    conn.request(method, path, body=b"x" if method == "PUT" else None, headers={"Authorization": auth})
    r = conn.getresponse()
    return r.status, r.read().decode()


def test_names_cannot_leave_the_store(aws):
    server, root = aws
    (root / BUCKET).mkdir(parents=True)
    secret = root.parent / "secret.txt"
    secret.write_text("outside")
    status, body = _raw(server, "GET", "/../secret.txt")
    assert (status, "InvalidBucketName") == (400, body.split("<Code>")[1].split("</Code>")[0])
    status, body = _raw(server, "PUT", f"/{BUCKET}/a/../../../escaped.txt")
    assert (status, "InvalidArgument") == (400, body.split("<Code>")[1].split("</Code>")[0])
    assert not (root.parent / "escaped.txt").exists()
    with pytest.raises(ClientError, match="InvalidBucketName"):
        boto3.client("s3").create_bucket(Bucket="a..b")
    assert sorted(p.name for p in root.iterdir()) == [BUCKET]


def test_key_that_is_a_folder_is_refused(aws):
    server, root = aws
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="run/model.tar.gz", Body=b"m")
    with pytest.raises(ClientError, match="the local store has a folder there"):
        s3.put_object(Bucket=BUCKET, Key="run", Body=b"x")
    assert (root / BUCKET / "run" / "model.tar.gz").read_bytes() == b"m"


def test_environment_restored(store, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "someone")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with local_aws(load_settings()) as server:
        assert os.environ["AWS_ENDPOINT_URL"] == server.endpoint
        assert urlparse(server.endpoint).hostname == "127.0.0.1"
        assert "AWS_PROFILE" not in os.environ
    assert os.environ["AWS_PROFILE"] == "someone"
    assert "AWS_ENDPOINT_URL" not in os.environ


FOREIGN = '''
import boto3
import sagemaker
from sagemaker.processing import ProcessingInput
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.steps import ProcessingStep


def get_pipeline(region, role=None, default_bucket=None, pipeline_name="ForeignPipeline"):
    boto_session = boto3.Session(region_name=region)
    session = PipelineSession(boto_session=boto_session, sagemaker_client=boto_session.client("sagemaker"),
                              default_bucket=default_bucket)
    role = role or sagemaker.session.get_execution_role(session)
    input_data = ParameterString("InputDataUrl", default_value=f"s3://seed-{region}/dataset/abalone.csv")
    processor = SKLearnProcessor(framework_version="1.2-1", role=role, instance_type="ml.m5.xlarge",
                                 instance_count=1, sagemaker_session=session)
    args = processor.run(code=__file__.replace("pipeline.py", "preprocess.py"),
                         inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")])
    return Pipeline(name=pipeline_name, parameters=[input_data],
                    steps=[ProcessingStep(name="Preprocess", step_args=args)], sagemaker_session=session)
'''


def test_run_pipeline_builds_a_foreign_module_without_credentials(store, tmp_path):
    package = tmp_path / "project" / "pipelines" / "abalone"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "pipeline.py").write_text(FOREIGN)
    (package / "preprocess.py").write_text("print('preprocess')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PYTHONPATH=str(tmp_path / "project"), WORKBOOK_TARGET="local", HOME=str(tmp_path))
    args = ["-n", "pipelines.abalone.pipeline", "-role-arn", "arn:aws:iam::123456789012:role/x",
            "-kwargs", '{"region": "us-east-1", "role": "arn:aws:iam::123456789012:role/x"}']
    r = subprocess.run([str(Path(sys.executable).parent / "run-pipeline"), *args], env=env, capture_output=True,
                       text=True, timeout=300)
    wanted = (f"error: input s3://seed-us-east-1/dataset/abalone.csv is missing: "
              f"put the file at {store / 's3' / 'seed-us-east-1' / 'dataset' / 'abalone.csv'}")
    assert (r.returncode, r.stderr.strip().splitlines()[-1]) == (1, wanted), r.stderr
    assert "Traceback" not in r.stderr
    uploaded = list((store / "s3" / "sagemaker-us-east-1-123456789012").rglob("preprocess.py"))
    assert [p.read_text() for p in uploaded] == ["print('preprocess')\n"]
    assert not (store / "s3" / "seed-us-east-1").exists()


STEP_THAT_DOWNLOADS = """
import os, boto3, pathlib
base = pathlib.Path(os.environ["SAGEMAKER_BASE_DIR"]) / "processing"
boto3.resource("s3").Bucket("penguins-workbook").download_file("raw/penguins.csv", str(base / "data.csv"))
rows = len((base / "data.csv").read_text().splitlines())
(base / "out" / "rows.txt").write_text(str(rows))
"""


def test_step_code_calls_s3_through_the_engine(aws, tmp_path):
    "A job whose script downloads its input with boto3 itself (as the template's preprocess.py) reads the store."
    from workbook.local.engine import run_definition
    from workbook.local.jobs import pack_folder, runproc_script
    server, root = aws
    settings = load_settings(image_environments="script-image=workbook")
    (root / BUCKET / "raw").mkdir(parents=True)
    (root / BUCKET / "raw" / "penguins.csv").write_text("a\nb\nc\n")
    code = tmp_path / "code"
    code.mkdir()
    (code / "step.py").write_text(STEP_THAT_DOWNLOADS)
    pack_folder(code, root / BUCKET / "code" / "sourcedir.tar.gz")
    (root / BUCKET / "code" / "runproc.sh").write_text(runproc_script("step.py"))
    def inp(name, uri, path): return {"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": path, "S3DataType": "S3Prefix"}}
    step = {"Name": "Download", "Type": "Processing", "Arguments": {
        "AppSpecification": {"ImageUri": "script-image", "ContainerEntrypoint": ["/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}},
        "ProcessingInputs": [inp("code", f"s3://{BUCKET}/code/sourcedir.tar.gz", "/opt/ml/processing/input/code"),
                             inp("entrypoint", f"s3://{BUCKET}/code/runproc.sh", "/opt/ml/processing/input/entrypoint")],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "S3Output": {"S3Uri": f"s3://{BUCKET}/out", "LocalPath": "/opt/ml/processing/out"}}]}}}
    record = run_definition({"Version": "2020-12-01", "Steps": [step]}, settings, progress=False, job_variables=server.environment)
    assert record["PipelineExecutionStatus"] == "Succeeded", record
    assert (root / BUCKET / "out" / "rows.txt").read_text() == "3"

"""Shared fixtures of the end-to-end tests."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture
def store(tmp_path, monkeypatch):
    "A fresh local store, set as WORKBOOK_STORE for this test and its subprocesses."
    path = tmp_path / "store"
    monkeypatch.setenv("WORKBOOK_STORE", str(path))
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    return path


def run_cli(*args, timeout=600, check=False, env=None):
    "Run the `workbook` console script; return the CompletedProcess."
    r = subprocess.run([str(BIN / "workbook"), *args], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})}, cwd=ROOT)
    if check and r.returncode: raise AssertionError(f"workbook {' '.join(args)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def code_snapshot(base: Path) -> Path:
    "A copy of the code folder the jobs receive (as the pipeline ships it), at `base / 'code'`."
    from workbook.pipeline import CODE_DIR
    code = base / "code"
    shutil.copytree(CODE_DIR, code, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "_modidx.py"))
    return code


def fake_aws_sagemaker_target(monkeypatch, tmp_path, region: str, bucket: str, role: str) -> None:
    "Fake AWS credentials (no profile, config or endpoint of the machine) and the sagemaker target's settings, for moto."
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SAGEMAKER"):
        monkeypatch.delenv(name, raising=False)
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
           "AWS_DEFAULT_REGION": region, "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"), "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
           "WORKBOOK_TARGET": "sagemaker", "WORKBOOK_BUCKET": bucket, "WORKBOOK_REGION": region, "WORKBOOK_ROLE": role,
           "WORKBOOK_STORE": str(tmp_path / "store")}
    for k, v in env.items(): monkeypatch.setenv(k, v)

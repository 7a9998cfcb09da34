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

"""Every notebook runs top to bottom in a real Jupyter kernel on the local target, as a learner runs it: slow cells
included, no AWS credentials, cells that need AWS printing what they would do on SageMaker. Prints each notebook's time."""
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "nbs").glob("*.ipynb"))


@pytest.fixture
def learner_environment(tmp_path, monkeypatch):
    "The local target in a fresh store, without AWS credentials or settings of the shell."
    for name in list(os.environ):
        if name.startswith(("AWS_", "WORKBOOK_")): monkeypatch.delenv(name)
    monkeypatch.setenv("WORKBOOK_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, learner_environment):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, startup_timeout=180, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try: client.execute()
    except CellExecutionError as e: pytest.fail(f"{path.name} failed in a kernel:\n{str(e)[-3000:]}", pytrace=False)
    except RuntimeError as e: pytest.fail(f"{path.name}: the kernel did not run: {e}", pytrace=False)  # e.g. it did not start
    print(f"\n{path.name}: {time.perf_counter() - start:.0f} s in a kernel", end="")

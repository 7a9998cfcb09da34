"""`workbook run` on the local target reuses the definition it built before while nothing it is built from changed:
the engine gets the same bytes, and a re-run neither imports the SageMaker SDK nor builds the pipeline."""
import json
import subprocess
import sys

from conftest import ROOT, code_snapshot
from workbook.config import load_settings

# `workbook run` in a fresh process, with the engine replaced by one that keeps the definition it is given.
RUN = """
import json, sys
from pathlib import Path
import workbook.pipeline_run as run
def engine(definition, settings, parameters, **kwargs):
    Path(sys.argv[1]).write_text(json.dumps(definition))
    return {"PipelineExecutionStatus": "Succeeded"}
run._local_engine = lambda: engine
from workbook.cli import main
code = main(["run"])
print("sdk imported:", "sagemaker" in sys.modules)
sys.exit(code)
"""


def _run(tmp_path, name):
    r = subprocess.run([sys.executable, "-c", RUN, str(tmp_path / name)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout, json.loads((tmp_path / name).read_text())


def test_a_rerun_reuses_the_definition_without_the_sdk(store, tmp_path):
    first_out, first = _run(tmp_path, "first.json")
    second_out, second = _run(tmp_path, "second.json")
    assert "sdk imported: True" in first_out and "reusing the one built before" not in first_out
    assert "sdk imported: False" in second_out and "reusing the one built before" in second_out
    assert second == first  # the engine gets the same definition
    assert (store / "figures" / "pipeline.png").is_file()  # drawn on the first run, still there


def test_the_kept_definition_is_the_one_the_sdk_builds(tmp_path):
    "Kept, reused, and built again from scratch: the same JSON, byte for byte; a changed source file builds anew."
    from workbook import pipeline
    from workbook.pipeline_run import local_definition
    settings = load_settings({}, store=tmp_path / "store")
    code = code_snapshot(tmp_path)
    build = lambda: (lambda p: (p.name, p.definition()))(pipeline.get_pipeline(settings=settings, code_dir=code))
    name, built, kept = local_definition(settings, build, code)
    _, reused, kept_again = local_definition(settings, lambda: (_ for _ in ()).throw(AssertionError("built again")), code)
    assert (name, kept, kept_again) == ("penguins-pipeline", False, True)
    assert json.dumps(reused) == json.dumps(built) == json.dumps(json.loads(build()[1]))
    (code / "workbook" / "evaluation.py").write_text((code / "workbook" / "evaluation.py").read_text() + "\n# changed\n")
    _, changed, kept_after_edit = local_definition(settings, build, code)
    assert not kept_after_edit
    assert changed != built  # the jobs' source archive changed, and so does the definition that names it

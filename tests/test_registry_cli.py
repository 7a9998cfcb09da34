"""`workbook registry list | approve | reject` on the local target, in a temporary store."""
import argparse
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, run_cli
from workbook.config import exit_on_error, load_settings, s3_to_local
from workbook.evaluation import evaluation_report
from workbook.registry import _mlflow_client, add_commands, list_model_versions, register_model_version

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
DRIVER = ("import argparse, sys; from workbook.config import exit_on_error; from workbook.registry import add_commands; "
          "p = argparse.ArgumentParser(prog='workbook'); add_commands(p.add_subparsers()); a = p.parse_args(sys.argv[1:]); "
          "sys.exit(exit_on_error(a.func)(a))")


@pytest.fixture(scope="session")
def empty_registry_db(tmp_path_factory):
    "An MLflow database with its tables created, made once: creating the tables takes seconds."
    settings = load_settings({}, store=tmp_path_factory.mktemp("template"))
    _mlflow_client(settings)
    return settings.mlflow_tracking_uri.removeprefix("sqlite:///")


@pytest.fixture
def registry_store(store, empty_registry_db):
    "A fresh local store (WORKBOOK_STORE) whose MLflow database starts empty."
    (store / "mlflow").mkdir(parents=True)
    shutil.copy(empty_registry_db, store / "mlflow" / "mlflow.db")
    return store


def registry(*argv):
    "Run `workbook registry ...` in-process through `add_commands`, as the `workbook` command does."
    parser = argparse.ArgumentParser(prog="workbook")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["registry", *argv])
    return exit_on_error(args.func)(args)


def registry_process(*argv):
    "Run `workbook registry ...` in a fresh Python process; return the CompletedProcess."
    return subprocess.run([sys.executable, "-c", DRIVER, "registry", *argv], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=os.environ.copy())


def register(correct: int) -> dict:
    "Register a version whose test accuracy is correct/10, in the store of $WORKBOOK_STORE."
    settings = load_settings()
    url = f"s3://{settings.bucket}/train/model.tar.gz"
    path = s3_to_local(url, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"model archive")
    y_true = [0, 1, 2] * 3 + [0]
    report = evaluation_report(y_true, y_true[:correct] + [1] * (10 - correct), CLASSES)
    spec = {"Containers": [{"Image": "tensorflow-inference:2.18-cpu", "ModelDataUrl": url}], "SupportedContentTypes": ["text/csv"]}
    return register_model_version(settings, url, report, inference_spec=spec)


def test_help_of_every_subcommand(capsys):
    for argv in (["--help"], ["list", "--help"], ["approve", "--help"], ["reject", "--help"]):
        with pytest.raises(SystemExit) as e: registry(*argv)
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith("usage: workbook registry"), out
    with pytest.raises(SystemExit): registry("approve", "--help")
    assert "--comment" in capsys.readouterr().out


def test_list_on_an_empty_store(registry_store, capsys):
    assert registry("list") == 0
    out = capsys.readouterr().out
    assert "model package group 'penguins'" in out and "no versions registered yet" in out
    assert str(registry_store) in out  # the header says where the registry lives


def test_approve_reject_and_list(registry_store, capsys):
    register(9); register(10); register(8)
    assert registry("approve", "2", "--comment", "best so far") == 0
    assert capsys.readouterr().out == "penguins version 2: PendingManualApproval -> Approved (best so far)\n"
    assert registry("reject", "3") == 0
    assert capsys.readouterr().out == "penguins version 3: PendingManualApproval -> Rejected\n"
    assert registry("reject", "2", "--comment", "revoked") == 0
    assert capsys.readouterr().out == "penguins version 2: Approved -> Rejected (revoked)\n"
    registry("approve", "1")
    capsys.readouterr()
    registry("list")
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:4] == ["version", "status", "accuracy", "created"]
    rows = [line.split()[:3] for line in lines[2:5]]
    assert rows == [["3", "Rejected", "0.8000"], ["2", "Rejected", "1.0000"], ["1", "Approved", "0.9000"]]
    assert lines[-1] == "latest approved: version 1"


@pytest.mark.parametrize("argv, message", [
    (["approve", "1"], "error: cannot approve version 1: it is Rejected, and a rejected version stays rejected (register a new version instead)"),
    (["reject", "1"], "error: version 1 is already Rejected"),
    (["approve", "5"], "error: model package group 'penguins' has no version 5 (versions: 1, 2)"),
    (["approve", "two"], "error: a model version is a whole number from 1 up (or a model package ARN), not 'two'"),
])
def test_invalid_transitions_are_one_line_and_change_nothing(registry_store, capsys, argv, message):
    register(9); register(10)
    registry("reject", "1")
    capsys.readouterr()
    before = list_model_versions(load_settings())
    with pytest.raises(SystemExit) as e: registry(*argv)
    assert e.value.code == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == message and captured.out == ""
    assert list_model_versions(load_settings()) == before


def test_in_a_fresh_process(registry_store, capsys):
    "A mistake exits with code 1 and one line on stderr, no traceback (one process: starting MLflow takes seconds)."
    register(10)
    registry("approve", "1", "--comment", "ok")
    r = registry_process("approve", "1")
    assert r.returncode == 1 and r.stderr.strip() == "error: version 1 is already Approved" and "Traceback" not in r.stderr


def test_through_the_workbook_command(registry_store):
    register(10)
    r = run_cli("registry", "approve", "1", check=True)
    assert r.stdout == "penguins version 1: PendingManualApproval -> Approved\n"
    r = run_cli("registry", "list", check=True)
    assert "latest approved: version 1" in r.stdout

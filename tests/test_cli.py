"""The `workbook` console script, as a learner runs it."""
from conftest import run_cli


def test_help_lists_commands():
    r = run_cli("--help", check=True)
    assert "run" in r.stdout and "usage: workbook" in r.stdout


def test_bad_param_is_one_clear_line(store):
    r = run_cli("run", "--param", "NoEqualsSign")
    assert r.returncode == 1
    assert r.stderr.strip() == "error: --param 'NoEqualsSign': expected NAME=VALUE"


def test_bad_setting_is_reported_without_traceback(store):
    r = run_cli("run", env={"WORKBOOK_TARGET": "cloud"})
    assert r.returncode == 1
    assert "WORKBOOK_TARGET='cloud'" in r.stderr and "Traceback" not in r.stderr

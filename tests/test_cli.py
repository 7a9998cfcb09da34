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


def test_approval_rule_on_and_off(store):
    "workbook approval enable|status|disable on the local target: the rule is a file in the store, and says what it does."
    assert run_cli("approval", "status", check=True).stdout.strip() == "deploy on approval is off (workbook approval enable)"
    out = run_cli("approval", "enable", check=True).stdout
    assert out.startswith("rule penguins-model-approval: approving a version deploys it to penguins-endpoint")
    assert (store / "events" / "rules" / "penguins-model-approval.json").is_file()
    assert run_cli("approval", "status", check=True).stdout.strip() == "penguins-model-approval: ENABLED"
    assert run_cli("approval", "disable", check=True).stdout.strip() == "rule removed"
    assert run_cli("approval", "disable", check=True).stdout.strip() == "no rule to remove"


def test_approval_on_sagemaker_needs_a_lambda_role(store):
    r = run_cli("approval", "enable", env={"WORKBOOK_TARGET": "sagemaker"})
    assert r.returncode == 1
    assert r.stderr.strip().endswith("--lambda-role ARN is needed on the sagemaker target (the Lambda function's role)")
    assert "Traceback" not in r.stderr

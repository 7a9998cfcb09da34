"""The pipeline's data-bias check (CheckDataBias, a ClarifyCheckStep) on the local target, as `workbook run` runs it:
the default run registers the bias report as the version's baseline; once that version is approved, a training split
without most female Gentoo fails the check with the metric, facet and values in the message, and the default data
passes it."""
import json
import re

import pytest

from conftest import run_cli
from workbook.clarify import drop_rows
from workbook.config import DATA_FILE, load_settings, s3_to_local
from workbook.eda import read_table

pytestmark = pytest.mark.slow  # three whole-pipeline runs

CHECK_ON = ["--param", "SkipDataBiasCheck=false", "--param", "RegisterNewDataBiasBaseline=false"]


def _latest_record(store) -> dict:
    return json.loads(sorted((store / "executions").glob("*/*/execution.json"), key=lambda p: p.stat().st_mtime)[-1].read_text())


def _step(record: dict, name: str) -> dict:
    return next(s for s in record["Steps"] if s["StepName"] == name)


def test_biased_training_data_fails_the_check_against_the_approved_baseline(store):
    env = {"WORKBOOK_SEED": "42"}
    first = run_cli("run", env=env, timeout=900)  # defaults: the check is skipped, its report becomes the baseline
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    record = _latest_record(store)
    check = _step(record, "CheckDataBias")
    assert (check["StepStatus"], check["Metadata"]["ClarifyCheck"]["SkipCheck"]) == ("Succeeded", True)
    baseline_uri = check["Metadata"]["ClarifyCheck"]["CalculatedBaselineConstraints"]
    assert baseline_uri == f"s3://penguins-workbook/penguins-pipeline/clarify/data-bias/{record['PipelineExecutionId']}/analysis.json"
    settings = load_settings()
    analysis = json.loads(s3_to_local(baseline_uri, settings).read_text())
    section = analysis["pre_training_bias_metrics"]
    assert (section["label"], section["label_value_or_threshold"], sorted(section["facets"])) == ("species", "Gentoo", ["island", "sex"])

    run_cli("registry", "approve", "1", env=env, check=True)  # the baseline of the approved version is the previous one
    biased_uri = f"s3://{settings.bucket}/data/penguins-few-female-gentoo.csv"
    path = s3_to_local(biased_uri, settings)
    drop_rows(read_table(DATA_FILE), keep=0.2, species="Gentoo", sex="female").to_csv(path, index=False)
    biased = run_cli("run", "--param", f"InputDataUrl={biased_uri}", *CHECK_ON, env=env, timeout=900)
    assert biased.returncode == 1, biased.stdout[-3000:] + biased.stderr[-3000:]
    record = _latest_record(store)
    check = _step(record, "CheckDataBias")
    assert check["StepStatus"] == "Failed"
    assert check["Metadata"]["ClarifyCheck"]["BaselineUsedForDriftCheckConstraints"] == baseline_uri
    message = record["FailureReason"]
    # the largest changes, each with metric, facet = value, label value, value and baseline: the sexes' Gentoo shares drift apart
    assert re.search(r"^step CheckDataBias failed: bias drift check failed: \d+ violations: ", message), message
    assert re.search(r"DPL of sex=(fe)?male for label Gentoo is -?0\.\d{4}, baseline -?0\.\d{4}", message), message
    assert check["FailureReason"] in message
    assert "Register-RegisterModel" not in {s["StepName"] for s in record["Steps"]}

    default = run_cli("run", *CHECK_ON, env=env, timeout=900)  # the default data against the same baseline: no violation
    assert default.returncode == 0, default.stdout[-3000:] + default.stderr[-3000:]
    record = _latest_record(store)
    check = _step(record, "CheckDataBias")
    assert (check["StepStatus"], check["Metadata"]["ClarifyCheck"]["SkipCheck"]) == ("Succeeded", False)
    assert "ViolationReport" not in check["Metadata"]["ClarifyCheck"]
    versions = run_cli("registry", "list", env=env, check=True).stdout
    assert re.search(r"^\s*2\s.*PendingManualApproval", versions, re.M), versions

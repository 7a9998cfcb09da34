"""The local Clarify processing job: the request a `ClarifyCheckStep` (data bias) puts in a pipeline definition, run as a
local processing job with the container contract (`analysis_config.json` in, `analysis.json` out), on the default and
on a deliberately biased training split (most female Gentoo dropped)."""
import json
import logging

import pytest

from workbook.clarify import (ANALYSIS_FILE, VIOLATIONS_FILE, PRE_TRAINING_METRICS, bias_dataset, check_bias, drop_rows)
from workbook.config import DATA_FILE, FEATURES, TARGET, WorkbookError, load_settings, s3_to_local
from workbook.eda import clean_penguins, read_table, validate_penguins
from workbook.preprocessing import split_data


def _data_bias_request(settings, dataset_uri: str, output_uri: str) -> dict:
    "The Arguments of a SageMaker SDK `ClarifyCheckStep` for data bias (its analysis_config.json lands in the store)."
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    from sagemaker import clarify
    from sagemaker.workflow.check_job_config import CheckJobConfig
    from sagemaker.workflow.clarify_check_step import ClarifyCheckStep, DataBiasCheckConfig
    from sagemaker.workflow.pipeline import Pipeline
    from workbook.pipeline import pipeline_session
    session = pipeline_session(settings)
    data = clarify.DataConfig(s3_data_input_path=dataset_uri, s3_output_path=output_uri, label=TARGET,
                              headers=[TARGET, *FEATURES], dataset_type="text/csv")
    bias = clarify.BiasConfig(label_values_or_threshold=["Gentoo"], facet_name=["sex", "island"], group_name="island")
    step = ClarifyCheckStep(
        name="CheckDataBias", check_job_config=CheckJobConfig(role="arn:aws:iam::111111111111:role/workbook", instance_count=1,
                                                              instance_type="ml.m5.large", sagemaker_session=session),
        clarify_check_config=DataBiasCheckConfig(data_config=data, data_bias_config=bias, methods=list(PRE_TRAINING_METRICS)),
        skip_check=False, register_new_baseline=False, model_package_group_name="penguins")
    definition = json.loads(Pipeline(name="clarify-test", steps=[step], sagemaker_session=session).definition())
    (found,) = definition["Steps"]
    assert (found["Type"], found["CheckType"]) == ("ClarifyCheck", "DATA_BIAS")
    return found["Arguments"]


def _run_clarify_job(settings, request: dict, name: str, tmp_path) -> dict:
    "Run the request as a local processing job; the image's command is the workbook's Clarify entry point."
    from workbook.local.jobs import run_processing_job
    job = {**request, "ProcessingJobName": name,
           "AppSpecification": {**request["AppSpecification"], "ContainerEntrypoint": ["python3", "-m", "workbook.clarify"]}}
    response = run_processing_job(job, settings, tmp_path / "jobs" / name, tmp_path / "logs" / f"{name}.log")
    assert response["ProcessingJobStatus"] == "Completed", (tmp_path / "logs" / f"{name}.log").read_text()
    return response


def _write_dataset(settings, table, uri: str) -> str:
    "Write `table` as Clarify's CSV (no header row: the configuration names the columns) at `uri` in the store."
    path = s3_to_local(uri, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, header=False)
    return uri


@pytest.mark.slow
def test_data_bias_job_passes_default_data_and_fails_biased_data(tmp_path, store):
    "Default training split: the baseline, which passes against itself. Most female Gentoo dropped: DPL of sex fails."
    settings = load_settings()
    train = bias_dataset(split_data(clean_penguins(validate_penguins(read_table(DATA_FILE))))["train"])
    biased = drop_rows(train, keep=0.2, species="Gentoo", sex="female")
    bucket = f"s3://{settings.bucket}/clarify"
    request = _data_bias_request(settings, _write_dataset(settings, train, f"{bucket}/default/train.csv"), f"{bucket}/baseline")
    assert [i["S3Input"]["LocalPath"] for i in request["ProcessingInputs"]] == ["/opt/ml/processing/input/config",
                                                                                 "/opt/ml/processing/input/data"]
    _run_clarify_job(settings, request, "clarify-baseline", tmp_path)
    request = _data_bias_request(settings, _write_dataset(settings, biased, f"{bucket}/biased/train.csv"), f"{bucket}/check")
    request["ProcessingInputs"].append({"InputName": "baseline", "S3Input": {
        "S3Uri": f"{bucket}/baseline/{ANALYSIS_FILE}", "LocalPath": "/opt/ml/processing/input/baseline",
        "S3DataType": "S3Prefix", "S3InputMode": "File"}})
    _run_clarify_job(settings, request, "clarify-check", tmp_path)
    read = lambda prefix, name: json.loads((s3_to_local(f"{bucket}/{prefix}", settings) / name).read_text())
    default, checked, violations = read("baseline", ANALYSIS_FILE), read("check", ANALYSIS_FILE), read("check", VIOLATIONS_FILE)

    section = default["pre_training_bias_metrics"]
    assert (section["label"], section["label_value_or_threshold"], sorted(section["facets"])) == (TARGET, "Gentoo", ["island", "sex"])
    assert sorted(m["name"] for m in section["facets"]["sex"][0]["metrics"]) == sorted(PRE_TRAINING_METRICS)
    assert check_bias(default, default)["violations"] == []
    with pytest.raises(WorkbookError, match=r"bias drift check failed: \d+ violations: .*DPL of sex=female for label Gentoo is "
                                            r"0\.\d{4}, baseline -0\.\d{4}"):
        check_bias(checked, default)
    named = {(v["facet"], v["facet_value"], v["metric_name"], v["constraint_check_type"]) for v in violations["violations"]}
    assert ("sex", "female", "DPL", "bias_drift_check") in named
    assert all(v["description"].endswith("does not meet the constraint requirement") for v in violations["violations"])

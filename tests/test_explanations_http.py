"""Clarify online explainability on the local endpoint over real HTTP.

Two server processes serve the same model (from the real preprocessing and training steps): one as today, one with an
ExplainerConfig whose EnableExplanations is `false`, so that only the request header turns explanations on. The
explained answer follows SageMaker's schema; its SHAP values add up, with the model on the baseline, to the served
probabilities; a request without explanations gets exactly today's bytes inside `predictions.data`.
"""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from test_endpoint_http import FEATURES, ROOT, ROWS, Server, _csv, _free_port, model_dir  # noqa: F401 (model_dir: a fixture)

BASELINE = "Biscoe,43.9,17.2,200.9,4201.8,male"
CONFIG = {"ClarifyExplainerConfig": {"EnableExplanations": "`false`",
                                     "InferenceConfig": {"FeatureHeaders": FEATURES},
                                     "ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": BASELINE}, "NumberOfSamples": 100}}}
PATH = "/endpoints/penguins-endpoint/invocations"


def _start(model_dir, tmp, explainer_config=None) -> Server:
    port = _free_port()
    args = [sys.executable, "-m", "workbook.serving", "--model-dir", str(model_dir), "--port", str(port), "--log-level", "warning"]
    if explainer_config is not None:
        (tmp / "explainer.json").write_text(json.dumps(explainer_config))
        args += ["--explainer-config", str(tmp / "explainer.json")]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = tmp / "server.log"
    proc = subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    s = Server(proc, port, None, model_dir)
    s.log = log
    return s


def _ready(s: Server) -> Server:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert s.proc.poll() is None, s.log.read_text()
        try: status, _, _ = s.request("GET", "/ping")
        except OSError: time.sleep(0.05); continue
        if status == 200: return s
        time.sleep(0.05)
    raise AssertionError(f"the endpoint did not come up: {s.log.read_text()}")


@pytest.fixture(scope="module")
def servers(model_dir, tmp_path_factory):  # noqa: F811
    plain = _start(model_dir, tmp_path_factory.mktemp("plain"))
    explaining = _start(model_dir, tmp_path_factory.mktemp("explaining"), CONFIG)
    yield _ready(plain), _ready(explaining)
    for s in (plain, explaining):
        if s.proc.poll() is None: s.proc.send_signal(signal.SIGTERM); s.proc.wait(30)


ROWS_OK = ROWS[:4]  # four whole penguins
CSV_HEADERS = {"Content-Type": "text/csv", "Accept": "text/csv"}


def _invoke(server, headers=None, rows=ROWS_OK):
    return server.request("POST", PATH, _csv(rows), {**CSV_HEADERS, **(headers or {})})


@pytest.mark.slow
def test_without_explanations_the_answer_is_todays(servers):
    plain, explaining = servers
    status, headers, today = _invoke(plain)
    assert status == 200 and headers["content-type"] == "text/csv"
    status, headers, body = _invoke(explaining)  # the configuration's expression is `false`
    assert status == 200 and headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer == {"version": "1.0", "predictions": {"content_type": "text/csv", "data": today.decode()},
                      "label_headers": ["Adelie", "Chinstrap", "Gentoo"], "explanations": {}}
    status, _, body = _invoke(plain, {"X-Amzn-SageMaker-Enable-Explanations": "`true`"})
    assert status == 400 and "no ExplainerConfig" in json.loads(body)["message"]


@pytest.mark.slow
def test_the_header_turns_explanations_on(servers, model_dir):  # noqa: F811
    from workbook.compute import load_pipeline
    from workbook.explanations import pipeline_predict
    plain, explaining = servers
    _, _, today = _invoke(plain)
    status, _, body = _invoke(explaining, {"X-Amzn-SageMaker-Enable-Explanations": "`true`"})
    assert status == 200, body
    answer = json.loads(body)
    assert answer["predictions"]["data"] == today.decode()
    records = answer["explanations"]["kernel_shap"]
    assert len(records) == len(ROWS_OK)
    assert [[f["feature_header"] for f in r] for r in records] == [FEATURES] * len(ROWS_OK)
    values = np.array([[f["attributions"][0]["attribution"] for f in r] for r in records])  # records x features x labels
    assert values.shape == (len(ROWS_OK), len(FEATURES), 3)
    served = np.array([[float(v) for v in line.split(",")[1:]] for line in today.decode().splitlines()])
    predict = pipeline_predict(load_pipeline(model_dir))
    expected = predict([BASELINE.split(",")])[0]  # the model on the baseline
    np.testing.assert_allclose(values.sum(axis=1) + expected, served, atol=1e-6)  # 9 significant digits served


@pytest.mark.slow
def test_per_record_expression_boto3_and_bad_expressions(servers):
    import boto3
    _, explaining = servers
    _, _, today = _invoke(servers[0])
    adelie = [line.startswith("Adelie") for line in today.decode().splitlines()]
    assert True in adelie and False in adelie
    client = boto3.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{explaining.port}",
                          aws_access_key_id="x", aws_secret_access_key="x")
    started = time.perf_counter()
    out = client.invoke_endpoint(EndpointName="penguins-endpoint", ContentType="text/csv", Accept="text/csv",
                                 Body=_csv(ROWS_OK), EnableExplanations="[1]>`0.5`")
    seconds = time.perf_counter() - started
    records = json.loads(out["Body"].read())["explanations"]["kernel_shap"]
    assert [r is not None for r in records] == adelie
    print(f"explained request of {len(ROWS_OK)} penguins ({sum(adelie)} explained): {seconds * 1000:.0f} ms")
    status, _, body = _invoke(explaining, {"X-Amzn-SageMaker-Enable-Explanations": "[1]>"})
    assert status == 400 and "is not a JMESPath expression" in json.loads(body)["message"]
    status, _, body = _invoke(explaining, {"X-Amzn-SageMaker-Enable-Explanations": "[0]"})
    assert status == 400 and "not true or false" in json.loads(body)["message"]


@pytest.mark.slow
def test_latency_of_an_explained_record(servers):
    "Median latency of one penguin, as today and explained (Kernel SHAP with 100 samples), printed for the record."
    plain, explaining = servers
    timings = {}
    for name, server, headers in [("plain", plain, None), ("explained", explaining, {"X-Amzn-SageMaker-Enable-Explanations": "`true`"})]:
        seconds = []
        for _ in range(20):
            started = time.perf_counter()
            status, _, _ = _invoke(server, headers, ROWS_OK[:1])
            seconds.append(time.perf_counter() - started)
            assert status == 200
        timings[name] = float(np.median(seconds))
    print(f"one penguin: {timings['plain'] * 1000:.1f} ms as today, {timings['explained'] * 1000:.1f} ms explained (median of 20)")
    assert timings["explained"] > timings["plain"]


def test_an_endpoint_without_explainer_config_never_imports_shap():
    "The fast path stays fast: without an ExplainerConfig, neither the explainer's module nor shap is imported."
    code = ("import sys; from workbook.serving import create_app; create_app('model'); "
            "print(sorted(m for m in ('shap', 'workbook.explanations', 'jmespath') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT / "code")},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr

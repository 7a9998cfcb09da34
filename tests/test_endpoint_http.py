"""The endpoint over real HTTP on 127.0.0.1: health, predictions, the boto3 runtime client, bad input, data capture, SIGTERM.

One server process (`python -m workbook.serving`) serves a model made by the real preprocessing and training steps
(two epochs). Expected predictions come from the SavedModel through TensorFlow and the sklearn transformer, not from
the server's numpy pipeline.
"""
import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
ENDPOINT = "penguins-endpoint"
ROWS = [["Biscoe", 48.6, 16.0, 230.0, 5800.0, "male"], ["Dream", 39.5, 17.8, 188.0, 3300.0, "female"],
        ["Torgersen", 38.9, 17.8, 181.0, 3625.0, "female"], ["Dream", 50.0, 19.5, 196.0, 3900.0, "male"],
        ["Biscoe", None, None, None, None, None], ["Atlantis", 46.0, 15.0, 220.0, 5500.0, "female"]]  # a new island: encoded as the transformer does
FEATURES = ["island", "culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]


class Server:
    "The server process, its port and the number of answered (captured) invocations."
    def __init__(self, proc, port, capture, model_dir):
        self.proc, self.port, self.capture, self.model_dir, self.ok = proc, port, capture, model_dir, 0
        self.first_pings = []

    def request(self, method, path, body=b"", headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request(method, path, body, headers or {})
        r = c.getresponse()
        data = r.read()
        if method == "POST" and r.status == 200: self.ok += 1
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    "A model directory from the real preprocessing and training steps."
    from workbook.config import DATA_FILE
    from workbook.preprocessing import preprocess
    from workbook.training import Hyperparameters, train
    tmp = tmp_path_factory.mktemp("model")
    preprocess(DATA_FILE, tmp / "data")
    d = tmp / "data"
    train(d / "train", d / "validation", d / "transformer", tmp / "model", Hyperparameters(epochs=2, patience=0), stream=io.StringIO())
    return tmp / "model"


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    port, capture = _free_port(), tmp_path_factory.mktemp("capture")
    log = capture.parent / "server.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "workbook.serving", "--model-dir", str(model_dir), "--port", str(port),
                             "--capture-destination", str(capture), "--log-level", "warning"],
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    s = Server(proc, port, capture, model_dir)
    s.log = log
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try: status, _, body = s.request("GET", "/ping")
        except OSError: time.sleep(0.05); continue
        s.first_pings.append((status, body))
        if status == 200: break
        time.sleep(0.05)
    yield s
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM); proc.wait(30)


@pytest.fixture(scope="module")
def expected(model_dir):
    "Probabilities of ROWS from the transformer and the SavedModel through TensorFlow."
    import joblib
    import tensorflow as tf
    transformer = joblib.load(model_dir / "transformer.joblib")
    df = pd.DataFrame(ROWS, columns=FEATURES)
    x = transformer.transform(df).astype(np.float32)
    fn = tf.saved_model.load(str(model_dir / "001")).signatures["serving_default"]
    (name, _), = fn.structured_input_signature[1].items()
    return next(iter(fn(**{name: tf.constant(x)}).values())).numpy()


def _csv(rows) -> bytes:
    return "\n".join(",".join("" if v is None else str(v) for v in r) for r in rows).encode()


def test_ping_is_503_while_loading_then_200(server):
    statuses = [s for s, _ in server.first_pings]
    assert statuses[-1] == 200
    assert 503 in statuses, "the model loaded before the server answered: expected 503 first"
    first_503 = next(b for s, b in server.first_pings if s == 503)
    assert json.loads(first_503)["error"] == "ModelNotReady"


def test_csv_predictions_equal_the_model(server, expected):
    classes = json.loads((server.model_dir / "classes.json").read_text())
    status, headers, body = server.request("POST", "/invocations", _csv(ROWS), {"Content-Type": "text/csv"})
    assert status == 200 and headers["content-type"] == "application/json"
    preds = json.loads(body)["predictions"]
    np.testing.assert_allclose([list(p["probabilities"].values()) for p in preds], expected, atol=1e-5)
    assert [p["species"] for p in preds] == [classes[i] for i in expected.argmax(1)]
    header = ",".join(FEATURES).encode() + b"\n"
    status, headers, body = server.request("POST", "/invocations", header + _csv(ROWS), {"Content-Type": "text/csv", "Accept": "text/csv"})
    assert status == 200 and headers["content-type"] == "text/csv"
    lines = [l.split(",") for l in body.decode().splitlines()]
    assert [l[0] for l in lines] == [classes[i] for i in expected.argmax(1)]
    np.testing.assert_allclose([[float(v) for v in l[1:]] for l in lines], expected, atol=1e-5)


def test_json_predictions_equal_the_model(server, expected):
    records = [dict(zip(FEATURES, r)) for r in ROWS]
    for payload in (records, {"instances": records}, {"instances": ROWS}):
        status, _, body = server.request("POST", f"/endpoints/{ENDPOINT}/invocations", json.dumps(payload).encode(),
                                         {"Content-Type": "application/json"})
        assert status == 200
        np.testing.assert_allclose([list(p["probabilities"].values()) for p in json.loads(body)["predictions"]], expected, atol=1e-5)


def test_boto3_runtime_client(server, expected):
    import boto3
    from botocore.exceptions import ClientError
    runtime = boto3.client("sagemaker-runtime", endpoint_url=f"http://127.0.0.1:{server.port}", region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x")
    r = runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Accept="text/csv", Body=_csv(ROWS[:2]),
                                InferenceId="boto-1")
    server.ok += 1
    assert r["ContentType"] == "text/csv" and r["InvokedProductionVariant"] == "AllTraffic"
    lines = r["Body"].read().decode().splitlines()
    np.testing.assert_allclose([[float(v) for v in l.split(",")[1:]] for l in lines], expected[:2], atol=1e-5)
    with pytest.raises(ClientError) as e:
        runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"Biscoe,48.6")
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "row 1 has 2 columns, expected 6" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        runtime.invoke_endpoint(EndpointName="other-endpoint", ContentType="text/csv", Body=_csv(ROWS[:1]))
    assert "endpoint 'other-endpoint' not found" in str(e.value)


BAD = [  # content type, body, status, error code, text in the message
    ("text/csv", b'"Biscoe,48.6,16.0,230,5800,male\n', 400, "ValidationError", "malformed CSV"),
    ("text/csv", b"Biscoe,48.6,16.0,230,5800\n", 400, "ValidationError", "row 1 has 5 columns, expected 6"),
    ("text/csv", b"Biscoe,48.6,16.0,230,5800,male\nDream,1,2,3,4,5,6\n", 400, "ValidationError", "row 2 has 7 columns"),
    ("text/csv", b"Biscoe,48.6,sixteen,230,5800,male", 400, "ValidationError", "culmen_depth_mm='sixteen' is not a number"),
    ("text/csv", b"Biscoe,48.6,16.0,230,inf,male", 400, "ValidationError", "not a finite number"),
    ("text/csv", b"Biscoe,48.6,16.0,230,1e309,male", 400, "ValidationError", "body_mass_g='1e309' is not a finite number"),
    ("text/csv", b"Biscoe," + b"9" * 500_000 + b",16.0,230,5800,male", 400, "ValidationError", "culmen_length_mm='" + "9" * 36 + "... is not a finite number"),
    ("application/json", b'[["Biscoe", 1e309, 16.0, 230, 5800, "male"]]', 400, "ValidationError", "not a finite number"),
    ("text/csv", b"island,sex\nBiscoe,male", 400, "ValidationError", "header lacks the column(s) culmen_length_mm"),
    ("text/csv", b"\xff\xfe\x00", 400, "ValidationError", "not UTF-8"),
    ("text/csv", b"", 400, "ValidationError", "body is empty"),
    ("application/json", b"{not json", 400, "ValidationError", "malformed JSON"),
    ("application/json", b'[{"island": "Biscoe"}]', 400, "ValidationError", "instance 1 lacks the key(s) culmen_length_mm"),
    ("application/json", b'{"instances": [[1, 2]]}', 400, "ValidationError", "instance 1 has 2 values, expected 6"),
    ("application/json", b'"just a string"', 400, "ValidationError", "send a JSON object"),
    ("application/json", b"[]", 400, "ValidationError", "no instances"),
    ("application/x-npy", b"\x93NUMPY", 415, "UnsupportedMediaType", "unsupported content type 'application/x-npy'"),
    ("text/plain", b"hello", 415, "UnsupportedMediaType", "send text/csv or application/json"),
]


@pytest.mark.parametrize("content_type,body,status,code,text", BAD, ids=[b[4][:30] for b in BAD])
def test_bad_input_is_a_4xx_json_error(server, content_type, body, status, code, text):
    got, headers, answer = server.request("POST", "/invocations", body, {"Content-Type": content_type})
    error = json.loads(answer)
    assert (got, error["error"], headers["x-amzn-errortype"]) == (status, code, code)
    assert text in error["message"], error["message"]


def test_oversized_body_is_413_and_the_server_keeps_serving(server):
    body = b"Biscoe,48.6,16.0,230,5800,male\n" * (6_291_456 // 31 + 1)
    assert len(body) > 6_291_456
    status, _, answer = server.request("POST", "/invocations", body, {"Content-Type": "text/csv"})
    assert status == 413 and "the limit is 6,291,456" in json.loads(answer)["message"]
    ok = b"Biscoe,48.6,16.0,230,5800,male\n" * (6_291_456 // 31 - 1000)  # just under the limit: answered
    status, _, answer = server.request("POST", "/invocations", ok, {"Content-Type": "text/csv"})
    assert status == 200 and len(json.loads(answer)["predictions"]) == 6_291_456 // 31 - 1000
    status, _, answer = server.request("GET", "/invocations")
    assert status == 405 and json.loads(answer)["error"] == "BadRequest"
    assert server.request("GET", "/ping")[0] == 200 and server.proc.poll() is None


def _capture_records(folder: Path) -> list[tuple[Path, dict]]:
    return [(f, json.loads(line)) for f in sorted(folder.rglob("*.jsonl")) for line in f.read_text().splitlines()]


def test_capture_files_parse_and_count_equals_requests(server):
    server.request("POST", "/invocations", _csv(ROWS[:1]), {"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": "q-42"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(_capture_records(server.capture)) < server.ok: time.sleep(0.1)
    records = _capture_records(server.capture)
    assert len(records) == server.ok
    name = re.compile(rf"{ENDPOINT}/AllTraffic/\d{{4}}/\d\d/\d\d/\d\d/\d\d-\d\d-\d{{3}}-[0-9a-f-]{{36}}\.jsonl")
    for path, rec in records:
        assert name.fullmatch(path.relative_to(server.capture).as_posix()), path
        assert set(rec) == {"captureData", "eventMetadata", "eventVersion"} and rec["eventVersion"] == "0"
        assert rec["captureData"]["endpointInput"]["mode"] == "INPUT" and rec["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rec["eventMetadata"]["inferenceTime"])
    last = records[-1][1]
    assert last["eventMetadata"]["inferenceId"] == "q-42"
    assert last["captureData"]["endpointInput"] == {"observedContentType": "text/csv", "mode": "INPUT", "data": _csv(ROWS[:1]).decode(), "encoding": "CSV"}
    assert last["captureData"]["endpointOutput"]["encoding"] == "JSON"
    assert json.loads(last["captureData"]["endpointOutput"]["data"])["predictions"][0]["species"]


def test_load_test_ramps_against_the_endpoint(server, tmp_path):
    "workbook loadtest over real HTTP: every step answered without errors, the knee and the recommendation in its JSON."
    out = tmp_path / "loadtest.json"
    r = subprocess.run([str(Path(sys.executable).parent / "workbook"), "loadtest", "--url", f"http://127.0.0.1:{server.port}/invocations",
                        "--concurrency", "1", "4", "--seconds", "1", "--rows", "10", "--output", str(out)],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "WORKBOOK_STORE": str(tmp_path / "store")})
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert [(s["concurrency"], s["errors"]) for s in result["steps"]] == [(1, 0), (4, 0)]
    assert all(s["requests"] > 10 and s["p99_ms"] >= s["p50_ms"] > 0 for s in result["steps"])
    assert result["knee"]["concurrency"] in (1, 4) and result["recommendation"]["instances"] >= 1
    assert "knee: concurrency" in r.stdout and (tmp_path / "store" / "figures" / "loadtest.png").is_file()


@pytest.mark.slow
def test_sigterm_flushes_every_record(server, tmp_path):
    "A second server writes capture only every hour: every record on disk after SIGTERM comes from the shutdown flush."
    port, capture, log = _free_port(), tmp_path / "capture", tmp_path / "server.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "workbook.serving", "--model-dir", str(server.model_dir), "--port", str(port),
                             "--capture-destination", str(capture), "--capture-flush-seconds", "3600", "--log-level", "warning"],
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30); c.request("GET", "/ping")
                if c.getresponse().status == 200: break
            except OSError: pass
            time.sleep(0.1)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(300):
            c.request("POST", "/invocations", _csv(ROWS[i % 4: i % 4 + 1]), {"Content-Type": "text/csv"})
            r = c.getresponse(); r.read()
            assert r.status == 200
        time.sleep(0.5)
        assert _capture_records(capture) == []  # all 300 are still queued in the server
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after its graceful shutdown
    finally:
        if proc.poll() is None: proc.kill(); proc.wait()
    assert len(_capture_records(capture)) == 300
    assert "Traceback" not in log.read_text()

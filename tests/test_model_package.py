"""A registered model package, served as the approval Lambda deploys it, answers as the local endpoint does.

The package is made as the pipeline makes it: preprocessing runs in the scikit-learn image's environment, training in
the TensorFlow image's; `model.tar.gz` (with the `code/` the training step writes) is registered in the local registry
and approved. `serve_model_package` then serves the registry's description of the version as SageMaker does after
`CreateModel(Containers=[{"ModelPackageName": arn}])`: its image's handler environment with the package's own
`code/requirements.txt` installed, its `code/inference.py`, its SavedModel behind TF Serving's REST API in the image's
TensorFlow. The local endpoint (`python -m workbook.serving`) serves the same archive. Raw CSV and JSON rows get the
same answers from both, and bad rows the same messages.
"""
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ["island", "culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]
ROWS = [["Biscoe", 48.6, 16.0, 230.0, 5800.0, "male"], ["dream", 39.5, 17.8, 188.0, 3300.0, "FEMALE"],
        ["Torgersen", 38.9, 17.8, 181.0, 3625.0, "female"], ["Dream", 50.0, 19.5, 196.0, 3900.0, "male"],
        ["Biscoe", None, None, None, None, None], ["Atlantis", 46.0, 15.0, 220.0, 5500.0, "."]]
QUIET = lambda line: None


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT / "code"), "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(python: Path, *args):
    r = subprocess.run([str(python), *map(str, args)], env=_env(), capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, f"{' '.join(map(str, args))[:200]}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    "(settings, DescribeModelPackage of version 1): trained in the images' environments, registered, approved."
    from workbook.config import DATA_FILE, SKLEARN_VERSION, TENSORFLOW_VERSION, load_settings, s3_to_local
    from workbook.local.images import IMAGE_ENVIRONMENTS, build_environment
    from workbook.registry import APPROVED, get_model_version, register_model_version, update_approval
    tmp = tmp_path_factory.mktemp("package")
    image = {e.name: e for e in IMAGE_ENVIRONMENTS}
    sklearn = build_environment(image[f"sklearn-{SKLEARN_VERSION}"], say=QUIET)
    _run(sklearn, ROOT / "code/preprocess.py", "--input", DATA_FILE, "--base-dir", tmp / "processing")
    tensorflow = build_environment(image[f"tensorflow-training-{TENSORFLOW_VERSION}"], say=QUIET)
    d, model = tmp / "processing", tmp / "model"
    _run(tensorflow, "-c", "import io; from workbook.training import Hyperparameters, train; "
         f"train({str(d / 'train')!r}, {str(d / 'validation')!r}, {str(d / 'transformer')!r}, {str(model)!r}, "
         "Hyperparameters(epochs=2, patience=0), stream=io.StringIO())")
    settings = load_settings({}, store=tmp / "store")
    url = f"s3://{settings.bucket}/models/package-test/output/model.tar.gz"
    archive = s3_to_local(url, settings)
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        for p in sorted(model.iterdir()): tar.add(p, arcname=p.name)
    report = {"multiclass_classification_metrics": {m: {"value": 0.97, "standard_deviation": "NaN"}
                                                    for m in ("accuracy", "weighted_f1")}}
    register_model_version(settings, url, report)
    update_approval(settings, 1, APPROVED)
    return settings, get_model_version(settings, 1)


@pytest.fixture(scope="module")
def container(registered, tmp_path_factory):
    "The package served as SageMaker's TensorFlow Serving container serves it."
    from workbook.local.serving import serve_model_package
    settings, package = registered
    served = serve_model_package(package, tmp_path_factory.mktemp("container"), settings, say=QUIET)
    yield served
    served.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint(registered, container, tmp_path_factory):
    "The local endpoint on the same unpacked archive; yields its port."
    from workbook.local.serving import endpoint_python
    python = endpoint_python(registered[1], container.model_dir, say=QUIET)
    port, log = _free_port(), tmp_path_factory.mktemp("endpoint") / "endpoint.log"
    proc = subprocess.Popen([str(python), "-m", "workbook.serving", "--model-dir", str(container.model_dir),
                             "--port", str(port), "--log-level", "warning"],
                            env=_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        try:
            if _request(f"http://127.0.0.1:{port}", "GET", "/ping")[0] == 200: break
        except OSError: pass
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


def _request(url: str, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    host, port = url.removeprefix("http://").split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    c.request(method, path, body, headers or {})
    r = c.getresponse()
    return r.status, r.getheader("Content-Type"), r.read()


def _csv(rows, header=False) -> bytes:
    lines = ([",".join(FEATURES)] if header else []) + [",".join("" if v is None else str(v) for v in r) for r in rows]
    return "\n".join(lines).encode()


PAYLOADS = {  # name: (content type, body)
    "csv": ("text/csv", _csv(ROWS)),
    "csv with header": ("text/csv", _csv(ROWS, header=True)),
    "json records": ("application/json", json.dumps([dict(zip(FEATURES, r)) for r in ROWS]).encode()),
    "json instances": ("application/json", json.dumps({"instances": ROWS}).encode()),
    "json one record": ("application/json", json.dumps(dict(zip(FEATURES, ROWS[0]))).encode()),
    "json flat list": ("application/json", json.dumps(ROWS[1]).encode()),
}


def _answer(status, kind, body):
    "(species, probabilities) of a 200 answer, JSON or CSV."
    assert status == 200, body
    if kind.startswith("text/csv"):
        lines = [l.split(",") for l in body.decode().splitlines()]
        return [l[0] for l in lines], np.array([[float(v) for v in l[1:]] for l in lines])
    preds = json.loads(body)["predictions"]
    return [p["species"] for p in preds], np.array([list(p["probabilities"].values()) for p in preds])


def test_the_package_is_self_contained(registered, container):
    import workbook.handler
    from workbook.config import TENSORFLOW_VERSION
    spec = registered[1]["InferenceSpecification"]["Containers"][0]
    assert spec["Image"].endswith(f"/tensorflow-inference:{TENSORFLOW_VERSION}-cpu")
    model = container.model_dir
    assert (model / "001" / "saved_model.pb").is_file() and (model / "transformer.joblib").is_file()
    assert (model / "code" / "inference.py").read_bytes() == Path(workbook.handler.__file__).read_bytes()
    assert "scikit-learn==1.4.2" in (model / "code" / "requirements.txt").read_text().splitlines()


@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_rows_get_the_local_endpoints_answer(container, endpoint, payload, accept):
    content_type, body = PAYLOADS[payload]
    headers = {"Content-Type": content_type, "Accept": accept}
    served = _request(container.url, "POST", "/invocations", body, headers)
    local = _request(endpoint, "POST", "/invocations", body, headers)
    assert served[1].split(";")[0] == local[1].split(";")[0] == accept
    species, probabilities = _answer(*served)
    local_species, local_probabilities = _answer(*local)
    assert species == local_species
    np.testing.assert_allclose(probabilities, local_probabilities, atol=1e-5)
    assert len(species) == (len(ROWS) if payload in ("csv", "csv with header", "json records", "json instances") else 1)


BAD = [("text/csv", b"Biscoe,48.6,16.0,230,5800\n", "row 1 has 5 columns, expected 6"),
       ("text/csv", b"Biscoe,48.6,sixteen,230,5800,male", "row 1: culmen_depth_mm='sixteen' is not a number"),
       ("application/json", b'{"instances": [[1, 2]]}', "instance 1 has 2 values, expected 6"),
       ("application/json", b'[{"island": "Biscoe"}]', "instance 1 lacks the key(s) culmen_length_mm"),
       ("text/plain", b"hello", "unsupported content type 'text/plain'")]


@pytest.mark.parametrize("content_type,body,message", BAD, ids=[b[2][:30] for b in BAD])
def test_bad_rows_get_the_same_message(container, endpoint, content_type, body, message):
    "The container answers a handler's error with 500 and {'error': ...}, the local endpoint with a 4xx: same text."
    status, _, served = _request(container.url, "POST", "/invocations", body, {"Content-Type": content_type})
    local_status, _, local = _request(endpoint, "POST", "/invocations", body, {"Content-Type": content_type})
    assert status == 500 and 400 <= local_status < 500
    assert json.loads(served)["error"] == json.loads(local)["message"]
    assert message in json.loads(served)["error"]


def test_workbook_deploy_serves_the_package(registered, container, tmp_path):
    "`deploy` runs the endpoint where the package's transformer loads: the image's TensorFlow with its scikit-learn."
    from workbook.config import load_settings
    from workbook.deployment import deploy, stop_endpoint
    settings = load_settings({}, store=registered[0].store, port=_free_port())
    record = deploy(settings, 1)
    try:
        assert record["status"] == "InService"
        content_type, body = PAYLOADS["csv"]
        headers = {"Content-Type": content_type, "Accept": "text/csv"}
        served = _answer(*_request(container.url, "POST", "/invocations", body, headers))
        deployed = _answer(*_request(record["url"], "POST", "/invocations", body, headers))
        assert served[0] == deployed[0]
        np.testing.assert_allclose(served[1], deployed[1], atol=1e-5)
    finally:
        stop_endpoint(settings)


@pytest.mark.slow
def test_workbook_transform_scores_the_package(registered, container, tmp_path):
    "Batch transform reads the package in the same environment as `deploy`; a bad row is one line, nothing written."
    from workbook.config import WorkbookError
    from workbook.deployment import transform
    source = tmp_path / "new.csv"
    source.write_bytes(_csv(ROWS, header=True) + b"\n")
    out = transform(registered[0], source, tmp_path / "out.csv")
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(FEATURES) + ",species,p_Adelie,p_Chinstrap,p_Gentoo"
    served = _answer(*_request(container.url, "POST", "/invocations", _csv(ROWS), {"Content-Type": "text/csv", "Accept": "text/csv"}))
    assert [l.split(",")[6] for l in lines[1:]] == served[0]
    np.testing.assert_allclose([[float(v) for v in l.split(",")[7:]] for l in lines[1:]], served[1], atol=1e-5)
    bad = tmp_path / "bad.csv"
    bad.write_text("Biscoe,48.6,16.0,230,5800,male\nDream,heavy,17.8,188,3300,female\n")
    with pytest.raises(WorkbookError, match=r"^rows 1-2: row 2: culmen_length_mm='heavy' is not a number$"):
        transform(registered[0], bad, tmp_path / "bad.out")
    assert not (tmp_path / "bad.out").exists()

"""The local jobs' image environments: the workbook's steps run with the images' libraries, and version skew shows up
locally as it would on SageMaker."""
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.config import DATA_FILE, SKLEARN_VERSION, TENSORFLOW_VERSION
from workbook.local.images import IMAGE_ENVIRONMENTS, build_environment, image_environment

ROOT = Path(__file__).resolve().parents[1]
CODE = ROOT / "code"
SKLEARN_IMAGE = f"683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:{SKLEARN_VERSION}-cpu-py3"
TENSORFLOW_IMAGE = f"763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:{TENSORFLOW_VERSION}-cpu-py310"
SHIPPED = (CODE / "requirements.txt").read_text()

# Load the transformer the preprocessing job wrote, turning scikit-learn's version warning into an error.
LOAD = """
import sys, warnings
from sklearn.exceptions import InconsistentVersionWarning
warnings.simplefilter("error", InconsistentVersionWarning)
from workbook.preprocessing import load_transformer
import pandas as pd
transformer, classes = load_transformer(sys.argv[1])
rows = pd.read_csv(sys.argv[2]).dropna().head(3)[["island", "culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]]
print(transformer.transform(rows).shape)
"""


def run(python, *args):
    return subprocess.run([str(python), *map(str, args)], capture_output=True, text=True, cwd=CODE,
                          env={"PYTHONPATH": str(CODE), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.fixture(scope="module")
def transformer(tmp_path_factory):
    "The preprocessing step run in the scikit-learn image's environment (with the shipped requirements, as the job does)."
    python = build_environment(image_environment(SKLEARN_IMAGE), SHIPPED)
    out = tmp_path_factory.mktemp("processing")
    r = run(python, "preprocess.py", "--base-dir", out, "--input", DATA_FILE)
    assert r.returncode == 0, r.stderr
    version = run(python, "-c", "import sklearn; print(sklearn.__version__)").stdout.strip()
    assert version == image_environment(SKLEARN_IMAGE).image["scikit-learn"]
    return out / "transformer"


def test_the_shipped_requirements_make_the_training_image_read_the_transformer(transformer):
    python = build_environment(image_environment(TENSORFLOW_IMAGE), SHIPPED)
    r = run(python, "-c", LOAD, transformer, DATA_FILE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(3, 9)"


def test_without_them_the_training_image_scikit_learn_refuses_it(transformer):
    "The training image's own scikit-learn differs: the skew is caught locally, as it would be on SageMaker."
    env = image_environment(TENSORFLOW_IMAGE)
    assert env.image["scikit-learn"] != image_environment(SKLEARN_IMAGE).image["scikit-learn"]
    r = run(build_environment(env, ""), "-c", LOAD, transformer, DATA_FILE)
    assert r.returncode != 0
    assert "InconsistentVersionWarning" in r.stderr


def test_the_environments_have_the_images_versions():
    python = build_environment(image_environment(TENSORFLOW_IMAGE), SHIPPED)
    r = run(python, "-c", "import tensorflow as tf, numpy, keras; print(tf.__version__, numpy.__version__, keras.__version__)")
    assert r.returncode == 0, r.stderr
    env = image_environment(TENSORFLOW_IMAGE)
    assert r.stdout.split() == [env.image["tensorflow-cpu"], env.image["numpy"], env.image["keras"]]


@pytest.mark.parametrize("env", IMAGE_ENVIRONMENTS, ids=lambda e: e.name)
def test_every_image_environment_resolves_on_this_python(env, tmp_path):
    "Each table entry's pins resolve together on the host Python."
    (tmp_path / "requirements.txt").write_text(env.requirements())

    uv = Path(sys.executable).parent / "uv"
    r = subprocess.run([str(uv), "pip", "compile", "--quiet", "--python-version",
                        f"{sys.version_info.major}.{sys.version_info.minor}", str(tmp_path / "requirements.txt")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name, spec in env.pins().items():
        if spec.startswith("=="): assert f"{name}{spec}\n" in r.stdout.lower(), (name, spec)

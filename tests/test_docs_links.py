"""README.md and the site from nbs/index.ipynb: links written from nbs/ land on the same files from the root and on
the site (docs/build.py); README.md's relative links all exist."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from docs.build import _readme_target, _site_target, readme_text, settings  # noqa: E402

LINK = re.compile(r"\]\(([^)\s]+)\)")
PAGES = {"03_training.ipynb": "training.html", "index.ipynb": "index.html"}


def test_readme_targets_are_seen_from_the_root():
    assert _readme_target("03_training.ipynb") == "nbs/03_training.ipynb"
    assert _readme_target("03_training.ipynb#step-6") == "nbs/03_training.ipynb#step-6"
    assert _readme_target("../images/pipeline.png") == "images/pipeline.png"
    assert _readme_target("../program/README.md") == "program/README.md"
    for kept in ("https://docs.aws.amazon.com/sagemaker/", "#two-commands", "mailto:a@b.c", "/abs"):
        assert _readme_target(kept) == kept


def test_site_targets_are_pages_figures_or_github():
    cfg = settings()
    assert _site_target("03_training.ipynb", PAGES, cfg) == "training.html"
    assert _site_target("03_training.ipynb#step-6", PAGES, cfg) == "training.html#step-6"
    assert _site_target("../images/pipeline.png", PAGES, cfg) == "images/pipeline.png"
    github = "https://github.com/penguins-mlops/penguins-mlops-workbook"
    assert _site_target("../program/README.md", PAGES, cfg) == f"{github}/blob/main/program/README.md"
    assert _site_target("../program", PAGES, cfg) == f"{github}/tree/main/program"
    site = "https://penguins-mlops.github.io/penguins-mlops-workbook/"
    assert _site_target(site + "config.html#load_settings", PAGES, cfg) == "config.html#load_settings"
    assert _site_target(site, PAGES, cfg) == "index.html"
    assert _site_target("#two-commands", PAGES, cfg) == "#two-commands"


def test_readme_links_exist_from_the_root():
    targets = [t.partition("#")[0] for t in LINK.findall(readme_text())]
    relative = [t for t in targets if t and not re.match(r"[a-z]+:", t)]
    assert {"nbs/92_local_images.ipynb", "images/pipeline.png", "program/README.md"} <= set(relative)
    assert [t for t in relative if not (ROOT / t).exists()] == []

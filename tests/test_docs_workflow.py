"""The docs workflow (.github/workflows/docs.yml): it builds the site with `make docs` and publishes _docs/ on Pages."""
import configparser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def workflow():
    data = yaml.safe_load((ROOT / ".github" / "workflows" / "docs.yml").read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_publishes_on_push_to_main_and_by_hand(workflow):
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in workflow["on"]


def test_builds_with_make_docs_and_uploads_the_site(workflow):
    steps = workflow["jobs"]["build"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    (upload,) = [s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert runs == ["make docs"]
    assert steps.index(upload) == len(steps) - 1
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "settings.ini")
    assert upload["with"]["path"] == cfg["DEFAULT"]["doc_path"] == "_docs"


def test_only_the_deploy_job_may_write_pages(workflow):
    assert workflow["permissions"] == {"contents": "read"}
    assert "permissions" not in workflow["jobs"]["build"]
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["permissions"] == {"pages": "write", "id-token": "write"}
    (step,) = deploy["steps"]
    assert step["uses"].startswith("actions/deploy-pages@") and deploy["environment"]["name"] == "github-pages"


def test_the_site_address_is_the_repositorys_pages(workflow):
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "settings.ini")
    d = cfg["DEFAULT"]
    owner, repo = d["git_url"].removeprefix("https://github.com/").split("/")
    assert (d["doc_host"], d["doc_baseurl"], d["user"]) == (f"https://{owner}.github.io", f"/{repo}", owner)
    assert repo == d["repo"]

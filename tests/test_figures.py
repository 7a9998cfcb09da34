"""Figures: only `make figures` writes the committed `images/`; the notebooks, the tests and `workbook run` draw into
the settings' figures folder (STORE/figures, not tracked)."""
import json
import re

import pandas as pd

from conftest import ROOT, code_snapshot
from workbook.config import IMAGES_DIR, load_settings


def _images() -> dict:
    "Every committed figure with its modification time and bytes."
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(IMAGES_DIR.iterdir())}


def _code_cells(notebook):
    return ["".join(c["source"]) for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]


def test_workbook_run_draws_the_pipeline_graph_into_the_store(tmp_path, monkeypatch):
    "The code path of `workbook run` up to the engine (stubbed): the graph lands in STORE/figures, images/ is untouched."
    from workbook import pipeline, pipeline_run
    settings = load_settings({}, store=tmp_path / "store")
    ran = []
    def run_definition(definition, settings, parameters, **kwargs):
        ran.append(definition["Steps"][0]["Name"])
        return {"PipelineExecutionStatus": "Succeeded"}
    monkeypatch.setattr(pipeline_run, "_local_engine", lambda: run_definition)
    before = _images()
    code = pipeline.run_pipeline(pipeline.get_pipeline(settings=settings, code_dir=code_snapshot(tmp_path)), settings)
    assert (code, ran) == (0, ["PreprocessData"])
    assert (settings.figures / "pipeline.png").read_bytes()[:4] == b"\x89PNG"
    assert _images() == before


def test_plot_functions_draw_into_the_settings_figures_folder(tmp_path, monkeypatch):
    "The notebooks' figure functions, called without a path, write into STORE/figures (or WORKBOOK_FIGURES_DIR)."
    from workbook.config import DATA_FILE
    from workbook.eda import clean_penguins, plot_correlation, plot_histograms, plot_species_counts, read_table
    from workbook.training import plot_recipes
    monkeypatch.setenv("WORKBOOK_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("WORKBOOK_FIGURES_DIR", raising=False)
    before = _images()
    df = clean_penguins(read_table(DATA_FILE))
    comparison = pd.DataFrame({"recipe": ["a", "a", "b", "b"], "seed": [1, 2, 1, 2], "test_accuracy": [0.9, 0.95, 0.97, 0.99]})
    drawn = [plot_species_counts(df), plot_histograms(df), plot_correlation(df), plot_recipes(comparison)]
    assert [p.parent for p in drawn] == [tmp_path / "store" / "figures"] * 4
    monkeypatch.setenv("WORKBOOK_FIGURES_DIR", str(tmp_path / "elsewhere"))
    assert plot_correlation(df) == tmp_path / "elsewhere" / "correlation.png"
    assert _images() == before


def test_no_notebook_writes_into_images():
    "Only the configuration names the images/ folder; no notebook cell (exported or not) draws into it."
    offenders = []
    for notebook in sorted((ROOT / "nbs").glob("*.ipynb")):
        if notebook.name == "00_config.ipynb": continue
        for source in _code_cells(notebook):
            if "IMAGES_DIR" in source or re.search(r"""["']images/|["']images["']""", source):
                offenders.append((notebook.name, source.splitlines()[0]))
    assert offenders == []


def test_make_figures_draws_every_committed_image():
    "Each image in images/ is named by a notebook that `make figures` runs."
    makefile = (ROOT / "Makefile").read_text()
    listed = re.search(r"^FIGURE_NOTEBOOKS := (.+)$", makefile, re.M).group(1).split()
    assert "WORKBOOK_FIGURES_DIR=$(CURDIR)/images" in makefile and "--flags slow" in makefile
    code = "\n".join(s for nb in listed for s in _code_cells(ROOT / "nbs" / f"{nb}.ipynb"))
    images = sorted(p.name for p in IMAGES_DIR.glob("*.png"))
    assert images and [name for name in images if f'"{name}"' not in code] == []

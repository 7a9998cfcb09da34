"""The README's notebook table, the course program and the notebooks in `nbs/` agree: every notebook the README table or
a program page names exists, and every notebook is named in the README table and on one of the session pages."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "program"
NAME = re.compile(r"(?<![\w.-])(\d\d[a-z]?_[a-z][a-z0-9_]*?)(?:\.ipynb)?(?![\w-]|\.md)")  # a notebook, not a page


def notebooks() -> set[str]:
    return {p.stem for p in (ROOT / "nbs").glob("[0-9][0-9]*.ipynb")}


def readme_table() -> set[str]:
    "Notebooks named in the first column of the README's table under '## The notebooks'."
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## The notebooks\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert rows and rows[0].startswith("| notebook |"), "the README's notebook table is missing"
    cells = [row.split("|")[1] for row in rows[2:]]
    return {n for cell in cells for n in re.findall(r"`([^`]+)`", cell)}


def session_pages() -> list[Path]:
    return sorted(PROGRAM.glob("[0-9][0-9]*.md"))


def named(paths) -> set[str]:
    return {n for p in paths for n in NAME.findall(p.read_text())}


def test_names_are_found():
    "The pattern finds notebook names as pages write them, and nothing else."
    text = ("Open `nbs/03a_tuning.ipynb`, then 06_serving and [10_cli](../nbs/10_cli.ipynb); "
            "not s3_to_local, 2026_01, [the session](03_training.md) or solutions/90_local_engine.md.")
    assert sorted(set(NAME.findall(text))) == ["03a_tuning", "06_serving", "10_cli"]


def test_readme_table_names_existing_notebooks():
    missing = readme_table() - notebooks()
    assert not missing, f"the README's notebook table names notebooks that are not in nbs/: {sorted(missing)}"


def test_program_names_existing_notebooks():
    pages = sorted(PROGRAM.rglob("*.md"))
    assert pages, "program/ has no pages"
    missing = {f"{p.relative_to(ROOT)}: {n}" for p in pages for n in named([p]) if n not in notebooks()}
    assert not missing, f"program pages name notebooks that are not in nbs/: {sorted(missing)}"


def test_every_notebook_is_in_the_readme_table():
    unnamed = notebooks() - readme_table()
    assert not unnamed, f"notebooks missing from the README's notebook table: {sorted(unnamed)}"


def test_every_notebook_has_a_session():
    assert session_pages(), "program/ has no session pages (program/NN_*.md)"
    unnamed = notebooks() - named(session_pages())
    assert not unnamed, f"notebooks no session page names: {sorted(unnamed)}"


def test_index_links_every_session():
    "program/README.md links each session page, each solutions page exists and links back to its session."
    assert session_pages(), "program/ has no session pages (program/NN_*.md)"
    index = (PROGRAM / "README.md").read_text()
    for page in session_pages():
        assert f"]({page.name})" in index, f"program/README.md does not link {page.name}"
        solutions = PROGRAM / "solutions" / page.name
        assert solutions.is_file(), f"{page.name} has no solutions page program/solutions/{page.name}"
        assert f"](../{page.name})" in solutions.read_text(), f"solutions/{page.name} does not link back to its session"
        assert f"](solutions/{page.name})" in page.read_text(), f"{page.name} does not link its solutions page"


def test_links_resolve():
    "Every relative link of the program's pages points at a file of the repository."
    broken = []
    for page in sorted(PROGRAM.rglob("*.md")):
        for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", link) or link.startswith("#"): continue
            if not (page.parent / link.split("#")[0]).exists(): broken.append(f"{page.relative_to(ROOT)}: {link}")
    assert not broken, f"broken links: {broken}"

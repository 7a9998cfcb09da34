"""The course's site and README.md, both from the notebooks.

    python -m docs build            # _docs/: one page per notebook in nbs/, index.html from nbs/index.ipynb
    python -m docs serve [PORT]     # serve _docs/ on http://127.0.0.1:PORT (default 8000)
    python -m docs readme [--check] # README.md from nbs/index.ipynb; --check only says whether it is in sync

Each notebook goes through nbdev's processors, as `nbdev_docs` does: the title and the one-line summary become the
page's heading, exported and hidden cells leave the page, and every exported function or class gets its API entry
(`show_doc`), rendered from the exported `workbook` module rather than by running the notebook. Notebooks are kept
without outputs, so pages show code, not outputs; the figures the notebooks and runs write into `images/` show through
the notebooks' markdown image links. Markdown becomes HTML with nbconvert.

Links are written relative to the notebook (as Jupyter resolves them) and mapped for each place they end up:
`03_training.ipynb` becomes the page `training.html`, `../images/x.png` the site's `images/x.png`, any other `../path`
the file on GitHub; in README.md, which lives one folder up, they become `nbs/03_training.ipynb`, `images/x.png`, `path`.
"""
import configparser
import functools
import html
import re
import shutil
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
SITE = ROOT / "_docs"
IMAGES = ROOT / "images"
README = ROOT / "README.md"
INDEX = NBS / "index.ipynb"
README_NOTE = "<!-- Generated from nbs/index.ipynb by `make readme`: edit the notebook, not this file. -->\n"


def settings() -> dict:
    "The [DEFAULT] section of settings.ini."
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "settings.ini")
    return dict(cfg["DEFAULT"])


def notebooks() -> list[Path]:
    "The site's notebooks in reading order: the index first, then by number."
    return [INDEX] + sorted(p for p in NBS.glob("*.ipynb") if p != INDEX)


# --- README.md ------------------------------------------------------------------------------------------------

_LINK = re.compile(r"(\]\()([^)\s]+)")


def _readme_target(target: str) -> str:
    "A link target written from nbs/, as seen from the repository's root."
    if re.match(r"[a-z][a-z0-9+.-]*:|#|/", target): return target
    if target.startswith("../"): return target[3:]
    return "nbs/" + target


def readme_text() -> str:
    "README.md as nbs/index.ipynb's markdown cells make it."
    import nbformat
    nb = nbformat.read(INDEX, as_version=4)
    cells = [c.source.strip("\n") for c in nb.cells if c.cell_type == "markdown" and c.source.strip()]
    body = "\n\n".join(_LINK.sub(lambda m: m[1] + _readme_target(m[2]), s) for s in cells)
    return README_NOTE + body + "\n"


def readme(check: bool = False) -> int:
    "Write README.md from nbs/index.ipynb, or with `check` only say whether it is in sync."
    text = readme_text()
    if check:
        if README.read_text() == text:
            print("README.md is in sync with nbs/index.ipynb")
            return 0
        print("README.md is out of sync with nbs/index.ipynb: edit the notebook, run make readme and commit both")
        return 1
    README.write_text(text)
    print(f"wrote {README.relative_to(ROOT)} from {INDEX.relative_to(ROOT)}")
    return 0


# --- nbdev processing ---------------------------------------------------------------------------------------------

def _exported_modules(nb) -> list[str]:
    "The modules a notebook exports to: its `default_exp` and any `#| export MODULE`."
    from nbdev.process import extract_directives
    lib = settings()["lib_name"]
    mods = []
    for cell in nb.cells:
        if cell.cell_type != "code": continue
        for key, args in extract_directives(cell, remove=False).items():
            if key in ("default_exp", "export", "exports", "exporti") and args: mods.append(f"{lib}.{args[0]}")
    return list(dict.fromkeys(mods))


class _ShowDocsFromModule:
    "nbdev processor: fill each `show_doc(...)` cell's output from the exported module, without running the notebook."
    def __init__(self, nb, namespace: dict): self.nb, self.ns = nb, namespace

    def __call__(self, cell):
        from nbdev.processors import _is_showdoc
        if not _is_showdoc(cell): return
        from fastcore.basics import AttrDict
        md = []
        for line in cell.source.splitlines():
            if line.startswith("show_doc("):
                # a default under the repository shows relative to it, not as the path of the machine that built the site
                try: md.append(eval(line, self.ns)._repr_markdown_().replace(f"'{ROOT}/", "'"))
                except Exception as e:
                    from workbook.config import WorkbookError
                    raise WorkbookError(f"{Path(self.nb.path_).name}: {line}: {type(e).__name__}: {e}") from None
        cell.outputs = [AttrDict(output_type="execute_result", execution_count=None, metadata={},
                                 data={"text/markdown": "\n\n".join(md)})]


def process(path: Path):
    "A notebook after nbdev's documentation processors, and its frontmatter (title, description, output-file)."
    import importlib
    from execnb.nbio import read_nb
    from nbdev.frontmatter import FrontmatterProc
    from nbdev.process import NBProcessor
    from nbdev.processors import (add_show_docs, clean_magics, clean_show_doc, hide_, hide_line, populate_language,
                                  rm_export, rm_header_dash, strip_ansi, strip_hidden_metadata)
    from nbdev.showdoc import show_doc
    nb = read_nb(path)
    nb.path_ = str(path)
    ns = {"show_doc": show_doc}
    for mod in _exported_modules(nb): ns.update(vars(importlib.import_module(mod)))
    procs = [FrontmatterProc, populate_language, add_show_docs, strip_ansi, hide_line, rm_header_dash, clean_show_doc,
             _ShowDocsFromModule(nb, ns), rm_export, clean_magics, hide_, strip_hidden_metadata]
    NBProcessor(nb=nb, procs=procs).process()
    return nb, dict(nb.frontmatter_)


# --- HTML -----------------------------------------------------------------------------------------------------------

def _notebook_node(nb):
    "The processed notebook for nbconvert: markdown cells, and code cells without directives (API entries: output only)."
    import nbformat
    cells = []
    for c in nb.cells:
        if c.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(c.source))
        elif c.cell_type == "code":
            src = c.source
            echo = not re.search(r"^#\|\s*echo:\s*false", src, re.M)
            src = "\n".join(l for l in src.splitlines() if not l.startswith("#|")).strip("\n")
            outputs = [nbformat.from_dict(dict(o)) for o in c.get("outputs", [])]
            if not src and not outputs: continue
            cell = nbformat.v4.new_code_cell(src, outputs=outputs)
            if not echo: cell.metadata["tags"] = ["remove_input"]
            cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})


@functools.cache
def _exporter():
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    c = Config()
    c.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
    c.TagRemovePreprocessor.enabled = True
    return HTMLExporter(config=c, template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True)


def _site_target(target: str, pages: dict, cfg: dict) -> str:
    "A link target written from nbs/, as seen from the site's root."
    site = cfg["doc_host"] + cfg["doc_baseurl"].rstrip("/") + "/"
    if target.startswith(site): return target[len(site):] or "index.html"
    if re.match(r"[a-z][a-z0-9+.-]*:|#|/", target): return target
    path, _, frag = target.partition("#")
    frag = "#" + frag if frag else ""
    if path in pages: return pages[path] + frag
    if path.startswith("../images/"): return path[3:] + frag
    if path.startswith("../"):
        kind = "tree" if (ROOT / path[3:]).is_dir() else "blob"
        return f"{cfg['git_url']}/{kind}/{cfg['branch']}/{path[3:]}{frag}"
    return target


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<meta name="description" content="{description}">
<link rel="stylesheet" href="site.css">
<link rel="icon" href="data:,">
</head>
<body>
<nav class="sidebar">
<a class="home" href="index.html">{site_title}</a>
<ol>
{nav}
</ol>
<a class="repo" href="{git_url}">Source on GitHub</a>
</nav>
<main>
<h1 class="title">{heading}</h1>
{lede}
{body}
</main>
</body>
</html>
"""

CSS = """
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; display: flex; }
.sidebar { width: 16rem; flex: none; height: 100vh; position: sticky; top: 0; overflow-y: auto; padding: 1rem;
  box-sizing: border-box; background: #f6f8fa; border-right: 1px solid #d0d7de; font-size: 14px; }
.sidebar ol { list-style: none; padding: 0; margin: 1rem 0; }
.sidebar li a { display: block; padding: .15rem .4rem; border-radius: 4px; color: #1f2328; text-decoration: none; }
.sidebar li a:hover { background: #eaeef2; }
.sidebar li a.current { background: #ddf4ff; font-weight: 600; }
.sidebar .home { font-weight: 700; color: #1f2328; text-decoration: none; }
.sidebar .repo { color: #0969da; }
main { max-width: 60rem; padding: 1rem 2rem 4rem; min-width: 0; }
a { color: #0969da; }
.lede { font-size: 1.1rem; color: #57606a; }
img { max-width: 100%; }
table { border-collapse: collapse; margin: 1rem 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; vertical-align: top; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; border-radius: 6px; font-size: 13px; }
code { font-size: 90%; }
.jp-Cell, .cell { margin: .6rem 0; }
.jp-InputPrompt, .jp-OutputPrompt, .prompt { display: none; }
.anchor-link { visibility: hidden; margin-left: .3rem; text-decoration: none; }
h1:hover .anchor-link, h2:hover .anchor-link, h3:hover .anchor-link { visibility: visible; }
hr { border: 0; border-top: 1px solid #d0d7de; margin: 1.5rem 0; }
"""


def build(out: Path = SITE) -> list[Path]:
    "Write the site into `out` (replacing it): one HTML page per notebook, the figures in images/, a stylesheet."
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    from pygments.formatters import HtmlFormatter
    cfg = settings()
    processed = []
    for path in notebooks():
        nb, fm = process(path)
        processed.append((path, nb, fm))
    pages = {path.name: fm["output-file"] for path, _, fm in processed}
    titles = {fm["output-file"]: fm.get("title", path.stem) for path, _, fm in processed}
    titles["index.html"] = "Home"
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(IMAGES, out / "images")
    (out / "site.css").write_text(CSS + HtmlFormatter().get_style_defs(".highlight"))
    (out / ".nojekyll").write_text("")
    written = []
    for path, nb, fm in processed:
        body, _ = _exporter().from_notebook_node(_notebook_node(nb))
        body = re.sub(r'\b(href|src)="([^"]*)"',
                      lambda m: f'{m[1]}="{html.escape(_site_target(html.unescape(m[2]), pages, cfg))}"', body)
        name = fm["output-file"]
        nav = "\n".join(f'<li><a href="{p}"{" class=current" if p == name else ""}>{html.escape(t)}</a></li>'
                        for p, t in titles.items())
        title = fm.get("title", path.stem)
        desc = fm.get("description", "")
        page = PAGE.format(title=html.escape(title if name == "index.html" else f"{title} - {cfg['title']}"),
                           description=html.escape(desc, quote=True), site_title=html.escape(cfg["title"]), nav=nav,
                           git_url=html.escape(cfg["git_url"]), heading=html.escape(title),
                           lede=f'<div class="lede">{markdown2html_mistune(desc)}</div>' if desc else "", body=body)
        (out / name).write_text(page)
        written.append(out / name)
    print(f"wrote {len(written)} pages into {out.relative_to(ROOT)}/")
    return written


def serve(port: int = 8000) -> None:
    "Serve the built site on 127.0.0.1 until interrupted."
    from workbook.config import WorkbookError
    if not (SITE / "index.html").exists(): raise WorkbookError("no site in _docs/: run make docs first")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(SITE))
    try: server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as e: raise WorkbookError(f"cannot serve on 127.0.0.1:{port} ({e.strerror}): choose another port, "
                                             f"e.g. make preview DOCS_PORT={port + 1}") from None
    with server:
        print(f"serving {SITE.relative_to(ROOT)}/ on http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
        try: server.serve_forever()
        except KeyboardInterrupt: pass


USAGE = "usage: python -m docs build | serve [PORT] | readme [--check]"


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from workbook.config import WorkbookError
    try:
        if args == ["build"]: build(); return 0
        if args[:1] == ["serve"] and len(args) <= 2:
            if len(args) == 2 and not args[1].isdigit(): raise WorkbookError(f"port must be a number, not {args[1]!r}")
            serve(int(args[1]) if len(args) == 2 else 8000); return 0
        if args in (["readme"], ["readme", "--check"]): return readme(check=len(args) == 2)
    except (WorkbookError, OSError) as e:
        print(e, file=sys.stderr); return 1
    print(USAGE, file=sys.stderr)
    return 2

"""The built site (`make docs`) in a real browser: every page loads without errors, every image shows, no internal
link is broken. Run by `make test-docs`, which builds the site first; Chromium is the system's (`chromium` on PATH,
or the path in CHROMIUM)."""
import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from playwright.sync_api import sync_playwright

from docs.build import SITE, notebooks


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@pytest.fixture(scope="module")
def base_url():
    assert (SITE / "index.html").exists(), "no site in _docs/: run make docs"
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def crawl(base_url):
    "Visit every page reachable from index.html: per page its status, console errors, failed requests, images, links."
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    assert chromium, "no chromium on PATH: apt-get install chromium, or set CHROMIUM to a Chrome or Chromium binary"
    pages, todo, links = {}, [urljoin(base_url, "index.html")], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        errors, failed = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        while todo:
            url = todo.pop()
            if url in pages: continue
            errors.clear(); failed.clear()
            response = page.goto(url, wait_until="load")
            images = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
            anchors = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
            pages[url] = {"status": response.status, "errors": list(errors), "failed": list(failed),
                          "images": images, "anchors": anchors}
            for href in hrefs:
                target, frag = urldefrag(href)
                if not target.startswith(base_url): continue
                links.append((url, target, frag))
                if target.endswith(".html") and target not in pages: todo.append(target)
        statuses = {t: page.request.get(t).status for _, t, _ in links if not t.endswith(".html")}
        browser.close()
    return {"pages": pages, "links": links, "statuses": statuses, "base": base_url}


def test_every_notebook_has_a_page_reached_from_the_index(crawl):
    reached = {urlparse(u).path.lstrip("/") for u in crawl["pages"]}
    built = {p.name for p in SITE.glob("*.html")}
    assert len(built) == len(notebooks())
    assert reached == built


def test_every_page_loads_without_errors(crawl):
    for url, page in crawl["pages"].items():
        assert (page["status"], page["errors"], page["failed"]) == (200, [], []), url


def test_every_image_loads(crawl):
    images = [(url, src, width) for url, page in crawl["pages"].items() for src, width in page["images"]]
    figures = {p.name for p in (SITE / "images").glob("*.png")}
    assert len(figures) >= 10 and figures <= {Path(src).name for _, src, _ in images}  # every figure is on a page
    for url, src, width in images:
        assert width > 0, f"{url}: {src}"


def test_no_internal_link_is_broken(crawl):
    assert len(crawl["links"]) > 100
    for source, target, frag in crawl["links"]:
        if target.endswith(".html"):
            assert crawl["pages"][target]["status"] == 200, f"{source} -> {target}"
            assert not frag or frag in crawl["pages"][target]["anchors"], f"{source} -> {target}#{frag}"
        else:
            assert crawl["statuses"][target] == 200, f"{source} -> {target}"

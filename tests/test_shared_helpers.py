"""One helper per job: the package writes JSON atomically, reads the UTC clock, prints text tables, reads log tails and
checks process liveness only through `workbook.config`."""
import re

from conftest import ROOT

PACKAGE = ROOT / "code" / "workbook"
# The endpoint's request path keeps its own tuned second-resolution clock (`serving._utc_second`); the model package's
# handler and its compute path are self-contained (they ship inside model.tar.gz without the workbook).
OWN_CLOCK = {"serving.py", "handler.py", "compute.py"}
COPIES = {
    "atomic or JSON file writer": r"os\.replace\(|json\.dump\(|def (_?write_json\w*)\(",
    "UTC clock": r"datetime\.now\(|datetime\.utcnow\(|time\.gmtime\(|def (_now|utc_now)\w*\(",
    "text table": r"\.ljust\(|\.rjust\(|\{'[^']*':[<>]",  # padded cells, or a header of padded literals
    "log tail": r"deque\(|read_text\([^)]*\)\.splitlines\(\)\[-",
    "process liveness": r"psutil|/proc/|os\.kill\([^,]+, 0\)",
}


def test_each_job_has_one_helper_in_config():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "config.py" or rel == "_modidx.py" or path.name in OWN_CLOCK: continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for job, pattern in COPIES.items():
                if re.search(pattern, line): found.append(f"{rel}:{number}: {job}: {line.strip()[:80]}")
    assert found == []


def test_config_has_the_helpers():
    from workbook import config
    for name in ("write_atomic", "write_json_atomic", "utc_now", "utc_iso", "text_table", "tail_lines", "process_alive"):
        assert callable(getattr(config, name)), name

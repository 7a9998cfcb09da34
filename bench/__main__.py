"""`make bench`: run every benchmark of the workbook in turn; each writes JSON into bench/results/ and prints a table.

    python -m bench                 # all of them
    python -m bench serving         # only the ones whose name contains "serving"
"""
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    wanted = (argv if argv is not None else sys.argv[1:])
    scripts = sorted(p for p in HERE.glob("*_bench.py") if not wanted or any(w in p.stem for w in wanted))
    if not scripts:
        print(f"no benchmark matches {' '.join(wanted)}; available: {', '.join(p.stem for p in HERE.glob('*_bench.py'))}")
        return 1
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        start = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"({script.stem}: {time.perf_counter() - start:.0f} s, exit {rc})", flush=True)
        if rc: failed.append(script.stem)
    print(f"\nresults: {HERE / 'results'}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""What the benchmarks that run each implementation alone in a subprocess share: the run, timed and measured."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measured_run(script: Path, kind: str, folder: Path) -> dict:
    """Run `script --run KIND --folder FOLDER` in a subprocess whose last output line is a JSON object with
    `work_seconds`: that object, with the wall time, CPU time and peak RSS (from `os.wait4`'s rusage) of the process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code")}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script), "--run", kind, "--folder", str(folder)], stdout=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode: raise SystemExit(f"{kind} run failed with exit code {proc.returncode}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return {"seconds": round(seconds, 3), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3), "work_seconds": round(result.pop("work_seconds"), 3),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), **result}

"""Run every benchmark in this folder, one after another, and say which met its goal.

    .venv/bin/python benchmarks/run_all.py [name ...]     (``make bench`` runs it with the test services)
"""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    wanted = set(sys.argv[1:])
    scripts = sorted(path for path in HERE.glob("*.py") if path.name != "run_all.py" and not path.name.startswith("_")
                     and (not wanted or path.stem in wanted))
    results = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        results.append((script.name, code, time.monotonic() - started))
    print("\n=== summary ===")
    for name, code, seconds in results:
        print(f"{name:40} {'goal met' if code == 0 else f'goal NOT met (exit {code})':28} {seconds:6.0f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())

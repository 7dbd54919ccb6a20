"""Run the benches (`make bench`): every bench/bench_<name>.py, or those named.

    .venv/bin/python bench/run.py            # all of them
    .venv/bin/python bench/run.py health     # only bench/bench_health.py
    BENCH_SIZE=tiny .venv/bin/python bench/run.py checkout   # the checkout claim (its own data)
    BENCH_DURATION=5 .venv/bin/python bench/run.py

Each bench module exposes `run(ctx: harness.Context) -> list[harness.Figure]`; the
runner brings the stack up once (see harness.py), calls them in file-name order,
prints every figure with its same-run baseline and ratio, then a summary table, and
writes bench/results/<timestamp>.json. Exit status: 0 when every figure is ok, 1 when
one is not (errors under load, a limit passed), 2 when the stack could not run.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import harness

BENCH_DIR = Path(__file__).resolve().parent


def discover() -> dict[str, Callable]:
    """name -> run function, for each bench/bench_<name>.py in name order."""
    benches = {}
    for path in sorted(BENCH_DIR.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not callable(getattr(module, "run", None)):
            raise SystemExit(f"{path.name} has no run(ctx) function")
        benches[path.stem.removeprefix("bench_")] = module.run
    return benches


def main(argv: list[str]) -> int:
    benches = discover()
    unknown = [name for name in argv if name not in benches]
    if unknown:
        print(f"unknown bench(es): {', '.join(unknown)}; known: {', '.join(benches)}", file=sys.stderr)
        return 2
    selected = {name: benches[name] for name in argv} if argv else benches
    return harness.main(selected)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

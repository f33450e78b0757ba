"""Instructions per compile of the MLP training function, counted by valgrind (cachegrind).

Wall-clock compile time on the project's VMs swings by ±30% from run to run, more than
most compile-time changes; the number of instructions executed does not. This runs a
child process that compiles (graph + ``grad`` + ``function`` + first call with its
crosscheck) ``low`` and then ``high`` times under ``valgrind --tool=cachegrind
--cache-sim=no`` with a fixed ``PYTHONHASHSEED`` and reports the difference divided by
``high - low``: import and start-up cancel out. verigraph only; about three minutes on
the 2-core VM (valgrind runs the interpreter ~40x slower).

    python -m benchmarks.compile_count [--low 2] [--high 7] [--dtype float32]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

CHILD = """\
import sys
import verigraph as vg
from benchmarks.workloads import mlp_model as m
data = m.make_data(sys.argv[2])
class Lib:
    T, shared, grad, function = vg.tensor, vg.shared, vg.grad, vg.function
    softmax = vg.tensor.nnet.softmax
for _ in range(int(sys.argv[1])):
    train, shared = m.graph_train_function(Lib, data)
    train(data["x"], data["y"])
"""


def instructions(compiles, dtype):
    """Instructions executed by a child process that compiles ``compiles`` times."""
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, "-c", CHILD, str(compiles), dtype],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=1800)
    found = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"the counted child failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compile_count",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--low", type=int, default=2, help="compiles in the first child")
    parser.add_argument("--high", type=int, default=7, help="compiles in the second child")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = parser.parse_args(argv)
    if args.high <= args.low or args.low < 1:
        raise SystemExit(f"need 1 <= --low < --high, got --low {args.low} --high {args.high}")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt install valgrind): nothing to count with")
    low, high = instructions(args.low, args.dtype), instructions(args.high, args.dtype)
    per = (high - low) / (args.high - args.low)
    print(f"MLP training function ({args.dtype}): {per / 1e6:.1f}M instructions per compile "
          f"({args.low} compiles: {low:,}; {args.high}: {high:,})")


if __name__ == "__main__":
    main()

"""Process start to first logistic-regression result, per library, in fresh subprocesses.

Each sample launches ``python -c SCRIPT`` and stops the clock when the child prints
its first training-step result (interpreter teardown is not counted). The script
imports the library, builds the tutorial's logistic regression (N=400, 784
features, grad + updates), compiles it and calls it once. Every library gets one
discarded warm-up launch first (it also fills on-disk compile caches, so this is
the warm-start figure), then launches go round-robin, ``--quick``: one round.
Children inherit the one-thread environment. Run alone: ``python -m benchmarks.startup``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median
from time import perf_counter

from benchmarks.backends import BACKENDS, REFERENCES, load_backends
from benchmarks.results import Row, WorkloadResult
from benchmarks.settings import FULL, QUICK, Settings
from benchmarks.timing import quartiles

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 300

DATA = """\
import numpy as np
g = np.random.default_rng(20261123)
N, F = 400, 784
x = g.standard_normal((N, F)); y = g.integers(0, 2, N).astype("float64")
w0 = 0.01 * g.standard_normal(F)
"""

THEANO_API = """\
{imports}
{data}
xs, ys = T.dmatrix("x"), T.dvector("y")
w, b = theano.shared(w0, name="w"), theano.shared(0.0, name="b")
p_1 = 1 / (1 + T.exp(-T.dot(xs, w) - b))
prediction = p_1 > 0.5
xent = -ys * T.log(p_1) - (1 - ys) * T.log(1 - p_1)
cost = xent.mean() + 0.01 * (w ** 2).sum()
gw, gb = theano.grad(cost, [w, b])
train = theano.function([xs, ys], [prediction, xent],
                        updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)], mode="{mode}")
out = train(x, y)
print("RESULT", float(out[1].sum()), flush=True)
"""

NUMPY = """\
{data}
w, b = w0.copy(), 0.0
p = 1 / (1 + np.exp(-(x @ w) - b))
prediction = p > 0.5
xent = -y * np.log(p) - (1 - y) * np.log(1 - p)
gz = (p - y) / N
w -= 0.1 * (x.T @ gz + 0.02 * w)
b -= 0.1 * gz.sum()
print("RESULT", float(xent.sum()), flush=True)
"""

JAX = """\
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
{data}
def cost(w, b, x, y):
    p_1 = 1 / (1 + jnp.exp(-jnp.dot(x, w) - b))
    xent = -y * jnp.log(p_1) - (1 - y) * jnp.log(1 - p_1)
    return xent.mean() + 0.01 * (w ** 2).sum(), (p_1 > 0.5, xent)
@jax.jit
def train(w, b, x, y):
    (gw, gb), outputs = jax.grad(cost, argnums=(0, 1), has_aux=True)(w, b, x, y)
    return w - 0.1 * gw, b - 0.1 * gb, outputs
w, b, (prediction, xent) = jax.block_until_ready(train(w0, 0.0, x, y))
print("RESULT", float(xent.sum()), flush=True)
"""

IMPORTS = {"verigraph": "import verigraph as theano\nimport verigraph.tensor as T",
           "pytensor": "import pytensor as theano\nimport pytensor.tensor as T"}


def script_for(backend) -> str:
    """The child program for ``backend``."""
    if backend.family == "numpy":
        return NUMPY.format(data=DATA)
    if backend.family == "jax":
        return JAX.format(data=DATA)
    return THEANO_API.format(imports=IMPORTS[backend.library], data=DATA, mode=backend.mode)


def launch(script: str) -> tuple[float, float]:
    """Seconds from launch to the child's RESULT line, and the value it printed."""
    with tempfile.TemporaryFile("w+") as err:
        start = perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, env=os.environ.copy(),
                                stdout=subprocess.PIPE, stderr=err, text=True)
        elapsed = value = None
        for line in proc.stdout:
            if line.startswith("RESULT"):
                elapsed = perf_counter() - start
                value = float(line.split()[1])
                break
        proc.stdout.read()
        proc.wait(timeout=TIMEOUT_S)
        if elapsed is None or proc.returncode:
            err.seek(0)
            lines = [ln for ln in err.read().strip().splitlines() if ln.strip()]
            raise RuntimeError(lines[-1] if lines else f"exit status {proc.returncode}")
    return elapsed, value


def run_startup(settings: Settings, keys=None, skipped=None, console=None) -> WorkloadResult:
    """Measure each library's start-to-first-result time, round-robin.

    ``keys`` limits the backends; ``skipped`` maps backend keys found unusable in this
    process (see ``backends.load_backends``) to the reason, and those are not launched.
    """
    say = console.print if console else print
    result = WorkloadResult("startup", "process start to first logistic-regression result", "startup")
    backends = [b for b in BACKENDS if (keys is None or b.key in keys) and b.runs("startup")]
    rows, live, expected = {}, [], None
    for b in backends:
        row = rows[b.key] = Row(b.key, b.label)
        if b.key in (skipped or {}):
            row.status, row.notes = "skipped", [skipped[b.key]]
            continue
        try:
            row.first_s, value = launch(script_for(b))  # warm-up, also the correctness check
        except Exception as exc:
            row.status, row.notes = "error", [str(exc)[:160]]
            say(f"  error startup / {b.label}: {row.notes[0]}")
            continue
        if b.family == "numpy":
            expected = value
        elif expected is not None and abs(value - expected) > 1e-6 * abs(expected):
            row.status, row.notes = "MISMATCH", [f"result {value!r}, NumPy {expected!r}"]
            say(f"  MISMATCH startup / {b.label}: {row.notes[0]}")
        live.append(b.key)
    times = {k: [] for k in live}
    scripts = {b.key: script_for(b) for b in backends if b.key in live}
    for r in range(settings.startup_rounds):
        shift = r % max(1, len(live))
        for key in live[shift:] + live[:shift]:
            times[key].append(launch(scripts[key])[0])
    result.rounds = settings.startup_rounds
    for key, samples in times.items():
        row = rows[key]
        row.samples_s, row.median_s = samples, median(samples)
        row.notes.append(f"first launch {row.first_s:.2f} s")
        for ref in REFERENCES:
            if ref in times and ref != key:
                ratios = [a / b for a, b in zip(samples, times[ref])]
                row.ratios[ref] = median(ratios)
                row.spread[ref] = quartiles(ratios)
    result.rows = list(rows.values())
    return result


def main(argv=None):
    """``python -m benchmarks.startup [--quick]``: print the startup table."""
    import argparse

    from rich.console import Console

    from benchmarks.report import results_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round instead of three")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)
    skipped = load_backends([b.key for b in BACKENDS]).skipped
    settings = QUICK if args.quick else FULL
    console.print(results_table([run_startup(settings, skipped=skipped, console=console)]))


if __name__ == "__main__":
    main()

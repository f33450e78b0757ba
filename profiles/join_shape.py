"""The shape-inference trap from the tutorial notes: meant to produce a finding.

``z = T.join(0, x, y)`` stacks two matrices by rows, which needs them to
have the same number of columns. Asking only for ``z.shape`` on a (5, 4)
and a (3, 3) matrix lets a shape rewrite answer from the inputs' shapes
without joining anything; Theano answered ``[8 4]``, a shape no join of
those inputs can have. verigraph guards the inferred shape, so every mode
(FAST_RUN, FAST_COMPILE, DebugMode) must raise ``ShapeMismatchError``, a
``ValueError`` that names Join and both shapes. A workload that returns a
shape here is a bug in verigraph.
"""

import numpy as np

import verigraph as theano
import verigraph.tensor as T

EXPECT_FINDINGS = True
MODES = ("FAST_RUN", "FAST_COMPILE", "DebugMode")


def make_inputs():
    """A (5, 4) and a (3, 3) matrix: their column counts disagree."""
    return np.ones((5, 4)), np.ones((3, 3))


def build(mode=None):
    """Compile ``join_shape`` (only the shape) and ``join`` (the value); see README.md."""
    x, y = T.dmatrices("x", "y")
    z = T.join(0, x, y)
    join_shape = theano.function([x, y], z.shape, mode=mode, name="join_shape")
    join = theano.function([x, y], z, mode=mode, name="join")
    args = make_inputs()
    return {
        "functions": {"join_shape": join_shape, "join": join},
        "inputs": {"join_shape": [args], "join": [args]},
        "expect_findings": EXPECT_FINDINGS,
    }


def call_join_shape(mode=None):
    """Call the shape function once; ``(raised, message_or_returned_shape)``."""
    join_shape = build(mode)["functions"]["join_shape"]
    try:
        shape = join_shape(*make_inputs())
    except ValueError as error:
        return True, f"{type(error).__name__}: {error}"
    return False, f"returned shape {np.asarray(shape).tolist()}"


def main(mode=None):
    """Call the shape function in each mode (or just ``mode``); report whether it raised."""
    modes = MODES if mode is None else (mode,)
    outcomes = {m: call_join_shape(m) for m in modes}
    raised = all(r for r, _ in outcomes.values())
    first_error = next((msg for r, msg in outcomes.values() if r), "")
    summary = ", ".join(f"{m}: {'raised' if r else msg}" for m, (r, msg) in outcomes.items())
    print(f"join_shape: {'raised in every mode' if raised else 'DID NOT RAISE'} ({summary})")
    return {"raised": raised, "error": first_error,
            "by_mode": {m: {"raised": r, "detail": msg} for m, (r, msg) in outcomes.items()}}


if __name__ == "__main__":
    main()

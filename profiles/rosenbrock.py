"""Gradient descent on the Rosenbrock function with a shared-variable update.

f(x, y) = (a - x)**2 + b * (y - x**2)**2 with a = 1, b = 100, minimum 0 at
(1, 1). The point is one shared vector ``p = [x, y]``; the compiled step
takes no inputs, returns f and moves ``p`` by ``-0.001 * grad``. The
documented result: 10000 steps from (2, 2) end near (1.008, 1.016). The
function does almost no arithmetic, so this workload measures the cost of
a call and of applying an update.
"""

import numpy as np

import verigraph as theano
import verigraph.tensor as T

A, B = 1.0, 100.0
START = (2.0, 2.0)
LEARNING_RATE = 0.001
STEPS = 10000
DOCUMENTED_END = (1.008, 1.016)


def build(mode=None, steps=STEPS):
    """Compile ``train`` (one descent step, no inputs); see README.md."""
    p = theano.shared(np.array(START, dtype="float64"), name="p")
    z = (A - p[0]) ** 2 + B * (p[1] - p[0] ** 2) ** 2
    dp = T.grad(cost=z, wrt=p)
    train = theano.function(inputs=[], outputs=[z], updates=[(p, p - LEARNING_RATE * dp)],
                            mode=mode, name="rosenbrock.train")
    return {
        "functions": {"train": train},
        "inputs": {"train": [()] * steps},
        "shared": {"p": p},
    }


def main(mode=None):
    """Run the documented 10000 steps; return the end point and the final f."""
    built = build(mode)
    train, p = built["functions"]["train"], built["shared"]["p"]
    for _ in range(STEPS):
        z = train()
    x_end, y_end = (float(v) for v in p.get_value())
    result = {"x": x_end, "y": y_end, "final_value": float(z[0]),
              "matches_documented": (round(x_end, 3), round(y_end, 3)) == DOCUMENTED_END}
    print(f"rosenbrock: ({START[0]:.3f}, {START[1]:.3f}) -> ({x_end:.3f}, {y_end:.3f}) "
          f"after {STEPS} steps, f = {result['final_value']:.2e}")
    return result


if __name__ == "__main__":
    main()

"""Logistic regression trained by gradient descent, as in the Theano tutorial.

400 random examples with 784 features and random 0/1 labels; shared weights
``w`` and bias ``b``; cost = mean cross-entropy + 0.01 * sum(w ** 2); the
gradient with respect to both parameters drives a shared-variable update.
With more features than examples the labels are separable, so both the
cost and the training error fall.

The weights start small (0.01 * randn rather than the tutorial's randn) so
that ``log(1 - p)`` stays finite in the unoptimized graph: the reference
evaluator then has the same answer as a stabilized fast path, and any
difference a checker reports is a real one.
"""

import numpy as np

import verigraph as theano
import verigraph.tensor as T

N_EXAMPLES = 400
N_FEATURES = 784
LEARNING_RATE = 0.1
TRAIN_STEPS = 10
SEED = 1234


def make_data(seed=SEED):
    """Fixed random features and labels: ``(x, y)`` as float64 arrays."""
    rng = np.random.RandomState(seed)
    x = rng.randn(N_EXAMPLES, N_FEATURES)
    y = rng.randint(size=N_EXAMPLES, low=0, high=2).astype("float64")
    return x, y


def build(mode=None):
    """Compile ``train`` (one gradient step) and ``predict``; see README.md."""
    rng = np.random.RandomState(SEED + 1)
    data = make_data()

    x = T.dmatrix("x")
    y = T.dvector("y")
    w = theano.shared(0.01 * rng.randn(N_FEATURES), name="w")
    b = theano.shared(0.0, name="b")

    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))  # probability that the label is 1
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])

    train = theano.function(
        inputs=[x, y],
        outputs=[prediction, cost],
        updates=((w, w - LEARNING_RATE * gw), (b, b - LEARNING_RATE * gb)),
        mode=mode,
        name="logistic_regression.train",
    )
    predict = theano.function([x], prediction, mode=mode, name="logistic_regression.predict")
    return {
        "functions": {"train": train, "predict": predict},
        "inputs": {"train": [data] * TRAIN_STEPS, "predict": [(data[0],)]},
        "shared": {"w": w, "b": b},
        "data": data,
    }


def main(mode=None):
    """Train for a few steps; return the first and last cost and the training error."""
    built = build(mode)
    train, predict = built["functions"]["train"], built["functions"]["predict"]
    x, y = built["data"]
    costs = [float(train(x, y)[1]) for _ in range(TRAIN_STEPS)]
    error = float(np.mean(predict(x) != y))
    result = {"first_cost": costs[0], "final_cost": costs[-1], "train_error": error,
              "loss_fell": costs[-1] < costs[0]}
    print(f"logistic_regression: cost {costs[0]:.4f} -> {costs[-1]:.4f}, "
          f"train error {error:.3f}")
    return result


if __name__ == "__main__":
    main()

"""Loops with ``theano.scan``: polynomial evaluation and a small tanh RNN.

``polynomial``: the loop tutorial's example. Scan walks the coefficient
vector alongside ``T.arange(MAX_DEGREE)`` (scan stops at the shorter
sequence), computes ``c_i * x ** i`` per step, and the components are
summed: coefficients [1, 0, 2] at x = 3 give 1 + 0 * 3 + 2 * 9 = 19.

``rnn_train``: an Elman RNN, h_t = tanh(x_t W_in + h_{t-1} W_rec + b),
over a (time, batch, feature) tensor; a linear read-out of the last state
regresses the running sum of the first input feature. The gradient flows
back through scan and SGD updates the shared weights; the loss falls.
"""

import numpy as np

import verigraph as theano
import verigraph.tensor as T

MAX_DEGREE = 10000
N_IN, N_HIDDEN = 3, 8
N_STEPS, BATCH_SIZE = 6, 16
LEARNING_RATE = 0.05
TRAIN_STEPS = 30
SEED = 2024


def build_polynomial(mode=None):
    """Compile ``polynomial(coefficients, x)`` with scan."""
    coefficients = T.vector("coefficients")
    x = T.scalar("x")
    components, updates = theano.scan(
        fn=lambda coefficient, power, free_variable: coefficient * (free_variable ** power),
        outputs_info=None,
        sequences=[coefficients, T.arange(MAX_DEGREE)],
        non_sequences=x,
    )
    polynomial = components.sum()
    return theano.function([coefficients, x], polynomial, updates=updates, mode=mode,
                           name="scan_polynomial.polynomial")


def make_sequences(seed=SEED):
    """Fixed input sequences (time, batch, feature) and running-sum targets."""
    floatX = theano.config.floatX
    rng = np.random.RandomState(seed)
    xs = rng.uniform(-1, 1, size=(N_STEPS, BATCH_SIZE, N_IN)).astype(floatX)
    targets = xs[:, :, 0].sum(axis=0).astype(floatX)
    return xs, targets


def build_rnn(mode=None):
    """Compile ``rnn_train(xs, targets)``: one SGD step through a scan RNN."""
    floatX = theano.config.floatX
    rng = np.random.RandomState(SEED + 1)

    def weights(*shape):
        return (0.3 * rng.randn(*shape)).astype(floatX)

    W_in = theano.shared(weights(N_IN, N_HIDDEN), name="W_in")
    W_rec = theano.shared(weights(N_HIDDEN, N_HIDDEN), name="W_rec")
    b = theano.shared(np.zeros(N_HIDDEN, dtype=floatX), name="b")
    w_out = theano.shared(weights(N_HIDDEN), name="w_out")
    params = [W_in, W_rec, b, w_out]

    xs = T.tensor3("xs")
    targets = T.vector("targets")
    h0 = T.zeros((xs.shape[1], N_HIDDEN), dtype=floatX)
    hidden, scan_updates = theano.scan(
        fn=lambda x_t, h_prev: T.tanh(T.dot(x_t, W_in) + T.dot(h_prev, W_rec) + b),
        sequences=xs,
        outputs_info=h0,
    )
    prediction = T.dot(hidden[-1], w_out)
    loss = T.mean((prediction - targets) ** 2)
    lr = np.asarray(LEARNING_RATE, dtype=floatX)
    grads = T.grad(loss, params)
    updates = list(scan_updates.items())
    updates += [(p, p - lr * g) for p, g in zip(params, grads, strict=True)]
    train = theano.function([xs, targets], loss, updates=updates, mode=mode,
                            name="scan_polynomial.rnn_train")
    return train, params


def build(mode=None):
    """Compile ``polynomial`` and ``rnn_train``; see README.md."""
    floatX = theano.config.floatX
    polynomial = build_polynomial(mode)
    rnn_train, params = build_rnn(mode)
    sequences = make_sequences()
    return {
        "functions": {"polynomial": polynomial, "rnn_train": rnn_train},
        "inputs": {
            "polynomial": [(np.asarray([1, 0, 2], dtype=floatX), np.asarray(3, dtype=floatX))],
            "rnn_train": [sequences] * TRAIN_STEPS,
        },
        "shared": {p.name: p for p in params},
        "data": sequences,
    }


def main(mode=None):
    """Evaluate the documented polynomial and train the RNN briefly."""
    built = build(mode)
    (poly_args,) = built["inputs"]["polynomial"]
    value = float(built["functions"]["polynomial"](*poly_args))
    rnn_train = built["functions"]["rnn_train"]
    losses = [float(rnn_train(*built["data"])) for _ in range(TRAIN_STEPS)]
    result = {"polynomial": value, "first_loss": losses[0], "final_loss": losses[-1],
              "loss_fell": losses[-1] < losses[0]}
    print(f"scan_polynomial: 1 + 2*3**2 = {value:g}; rnn loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    return result


if __name__ == "__main__":
    main()

"""Two-layer perceptron classifier trained with minibatch SGD.

tanh hidden layer, softmax output, and the negative log-likelihood of
integer labels written the way the deep-learning tutorials write it:
``-mean(log(p_y_given_x)[arange(n), y])``. Labels come from a fixed random
linear teacher, so the task is learnable and the loss falls. Everything is
in ``config.floatX``; constants are cast so the updates keep the dtype of
the shared parameters.
"""

import numpy as np

import verigraph as theano
import verigraph.tensor as T

N_IN, N_HIDDEN, N_OUT = 64, 32, 10
N_EXAMPLES, BATCH_SIZE = 256, 32
LEARNING_RATE = 0.1
L2_WEIGHT = 1e-4
EPOCHS = 5
SEED = 4321


def make_data(seed=SEED):
    """Fixed inputs ``x`` (floatX) and teacher labels ``y`` (int32)."""
    rng = np.random.RandomState(seed)
    x = rng.randn(N_EXAMPLES, N_IN).astype(theano.config.floatX)
    teacher = rng.randn(N_IN, N_OUT)
    y = np.argmax(x.astype("float64") @ teacher, axis=1).astype("int32")
    return x, y


def _layer_weights(rng, n_in, n_out):
    """Glorot-uniform weights and a zero bias, as shared floatX variables."""
    bound = np.sqrt(6.0 / (n_in + n_out))
    W = rng.uniform(low=-bound, high=bound, size=(n_in, n_out)).astype(theano.config.floatX)
    return W, np.zeros(n_out, dtype=theano.config.floatX)


def build(mode=None):
    """Compile ``train`` (one SGD step on a minibatch) and ``errors``; see README.md."""
    floatX = theano.config.floatX
    rng = np.random.RandomState(SEED + 1)
    x_data, y_data = make_data()

    x = T.matrix("x")
    y = T.ivector("y")
    W1_value, b1_value = _layer_weights(rng, N_IN, N_HIDDEN)
    W2_value, b2_value = _layer_weights(rng, N_HIDDEN, N_OUT)
    W1, b1 = theano.shared(W1_value, name="W1"), theano.shared(b1_value, name="b1")
    W2, b2 = theano.shared(W2_value, name="W2"), theano.shared(b2_value, name="b2")
    params = [W1, b1, W2, b2]

    hidden = T.tanh(T.dot(x, W1) + b1)
    p_y_given_x = T.nnet.softmax(T.dot(hidden, W2) + b2)
    y_pred = T.argmax(p_y_given_x, axis=1)
    nll = -T.mean(T.log(p_y_given_x)[T.arange(y.shape[0]), y])
    cost = nll + np.asarray(L2_WEIGHT, dtype=floatX) * ((W1 ** 2).sum() + (W2 ** 2).sum())
    errors = T.mean(T.neq(y_pred, y))

    lr = np.asarray(LEARNING_RATE, dtype=floatX)
    grads = T.grad(cost, params)
    updates = [(p, p - lr * g) for p, g in zip(params, grads, strict=True)]
    train = theano.function([x, y], cost, updates=updates, mode=mode, name="mlp.train")
    error_rate = theano.function([x, y], errors, mode=mode, name="mlp.errors")

    batches = [(x_data[i:i + BATCH_SIZE], y_data[i:i + BATCH_SIZE])
               for i in range(0, N_EXAMPLES, BATCH_SIZE)]
    return {
        "functions": {"train": train, "errors": error_rate},
        "inputs": {"train": batches, "errors": [(x_data, y_data)]},
        "shared": {p.name: p for p in params},
        "data": (x_data, y_data),
    }


def main(mode=None):
    """Train a few epochs; return the first and last epoch's mean loss and the error rate."""
    built = build(mode)
    train, errors = built["functions"]["train"], built["functions"]["errors"]
    x_data, y_data = built["data"]
    initial_error = float(errors(x_data, y_data))
    epoch_losses = []
    for _ in range(EPOCHS):
        losses = [float(train(xb, yb)) for xb, yb in built["inputs"]["train"]]
        epoch_losses.append(float(np.mean(losses)))
    final_error = float(errors(x_data, y_data))
    result = {"first_loss": epoch_losses[0], "final_loss": epoch_losses[-1],
              "initial_error": initial_error, "final_error": final_error,
              "loss_fell": epoch_losses[-1] < epoch_losses[0]}
    print(f"mlp: loss {epoch_losses[0]:.4f} -> {epoch_losses[-1]:.4f}, "
          f"error {initial_error:.3f} -> {final_error:.3f}")
    return result


if __name__ == "__main__":
    main()

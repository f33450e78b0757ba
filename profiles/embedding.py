"""Word-embedding lookup table that updates only the rows a minibatch uses.

The FAQ recipe for learning a lookup table: index the shared table with an
integer vector (``subset = table[idx]``), make the cost depend on
``subset`` only, take the gradient with respect to ``subset`` and write it
back with ``T.inc_subtensor(subset, -lr * g)``, so the update touches just
the looked-up rows (a repeated index accumulates, like the full gradient).
A second function does the same with ``T.set_subtensor``. The cost pulls
each word's vector toward a fixed random target; rows never looked up must
stay exactly as they were.
"""

import numpy as np

import verigraph as theano
import verigraph.tensor as T

VOCABULARY, DIMENSION = 50, 8
USED_WORDS = 40  # words 40..49 never appear, so their rows must not change
BATCH_SIZE, N_BATCHES = 16, 20
LEARNING_RATE = 0.5
SEED = 7


def make_batches(seed=SEED):
    """Fixed minibatches of word indices (int32), drawn from the used words only."""
    rng = np.random.RandomState(seed)
    return [(rng.randint(0, USED_WORDS, size=BATCH_SIZE).astype("int32"),)
            for _ in range(N_BATCHES)]


def build(mode=None):
    """Compile ``train_inc``, ``train_set`` and ``lookup``; see README.md."""
    floatX = theano.config.floatX
    rng = np.random.RandomState(SEED + 1)
    table = theano.shared((0.1 * rng.randn(VOCABULARY, DIMENSION)).astype(floatX),
                          name="lookup_table")
    targets = theano.shared(rng.randn(VOCABULARY, DIMENSION).astype(floatX), name="targets")

    idx = T.ivector("idx")
    subset = table[idx]
    cost = T.mean(T.sum((subset - targets[idx]) ** 2, axis=1))
    g = theano.grad(cost, subset)
    lr = np.asarray(LEARNING_RATE, dtype=floatX)

    train_inc = theano.function([idx], cost, mode=mode, name="embedding.train_inc",
                                updates=[(table, T.inc_subtensor(subset, -lr * g))])
    # set_subtensor writes each used row once; with repeated indices the last write wins.
    train_set = theano.function([idx], cost, mode=mode, name="embedding.train_set",
                                updates=[(table, T.set_subtensor(subset, subset - lr * g))])
    lookup = theano.function([idx], subset, mode=mode, name="embedding.lookup")
    batches = make_batches()
    return {
        "functions": {"train_inc": train_inc, "train_set": train_set, "lookup": lookup},
        "inputs": {"train_inc": batches, "train_set": batches[:5],
                   "lookup": [(np.arange(VOCABULARY, dtype="int32"),)]},
        "shared": {"lookup_table": table},
    }


def main(mode=None):
    """Train with ``inc_subtensor``; check the loss falls and unused rows are untouched."""
    built = build(mode)
    table = built["shared"]["lookup_table"]
    train_inc = built["functions"]["train_inc"]
    before = table.get_value()
    batches = built["inputs"]["train_inc"]
    costs = [float(train_inc(*args)) for args in batches]
    after = table.get_value()
    untouched = bool(np.array_equal(before[USED_WORDS:], after[USED_WORDS:]))
    looked_up = built["functions"]["lookup"](np.arange(VOCABULARY, dtype="int32"))
    result = {"first_cost": costs[0], "final_cost": costs[-1],
              "loss_fell": costs[-1] < costs[0], "unused_rows_unchanged": untouched,
              "lookup_matches_table": bool(np.array_equal(looked_up, after))}
    print(f"embedding: cost {costs[0]:.4f} -> {costs[-1]:.4f}, "
          f"unused rows unchanged: {untouched}")
    return result


if __name__ == "__main__":
    main()

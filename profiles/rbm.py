"""Restricted Boltzmann machine trained with contrastive divergence (CD-1).

The deep-learning tutorial's pattern, at toy size: a ``free_energy``
expression; one Gibbs step sampled with ``RandomStreams.binomial``; the
cost ``mean(F(v0)) - mean(F(chain_end))`` differentiated with
``consider_constant=[chain_end]``; an ordered ``updates`` dict; and a
training function of a minibatch ``index`` only, whose data arrive through
``givens={x: train_set_x[index * batch_size:(index + 1) * batch_size]}``.
The returned monitor is the mean squared reconstruction error, which falls
as the machine learns the few noisy prototypes the data are made of.
"""

from collections import OrderedDict

import numpy as np

import verigraph as theano
import verigraph.tensor as T
from verigraph.tensor.shared_randomstreams import RandomStreams

N_VISIBLE, N_HIDDEN = 64, 16
N_EXAMPLES, BATCH_SIZE = 200, 20
N_PROTOTYPES, FLIP_PROBABILITY = 4, 0.05
LEARNING_RATE = 0.1
EPOCHS = 5
SEED = 123


def make_data(seed=SEED):
    """Binary floatX data: noisy copies of a few random binary prototypes."""
    rng = np.random.RandomState(seed)
    prototypes = rng.binomial(n=1, p=0.5, size=(N_PROTOTYPES, N_VISIBLE))
    rows = prototypes[rng.randint(0, N_PROTOTYPES, size=N_EXAMPLES)]
    flips = rng.binomial(n=1, p=FLIP_PROBABILITY, size=rows.shape)
    return np.abs(rows - flips).astype(theano.config.floatX)


class RBM:
    """Weights, biases and the symbolic pieces of CD-k for one RBM."""

    def __init__(self, n_visible, n_hidden, numpy_rng, theano_rng):
        floatX = theano.config.floatX
        bound = 4 * np.sqrt(6.0 / (n_hidden + n_visible))
        W = numpy_rng.uniform(low=-bound, high=bound, size=(n_visible, n_hidden))
        self.W = theano.shared(W.astype(floatX), name="W")
        self.hbias = theano.shared(np.zeros(n_hidden, dtype=floatX), name="hbias")
        self.vbias = theano.shared(np.zeros(n_visible, dtype=floatX), name="vbias")
        self.params = [self.W, self.hbias, self.vbias]
        self.theano_rng = theano_rng

    def free_energy(self, v_sample):
        """F(v) = -v.vbias - sum_j log(1 + exp(v.W_j + hbias_j)), one value per row."""
        wx_b = T.dot(v_sample, self.W) + self.hbias
        vbias_term = T.dot(v_sample, self.vbias)
        hidden_term = T.sum(T.log(1 + T.exp(wx_b)), axis=1)
        return -hidden_term - vbias_term

    def sample_h_given_v(self, v_sample):
        """Mean and binary sample of the hidden units given visible units."""
        h_mean = T.nnet.sigmoid(T.dot(v_sample, self.W) + self.hbias)
        h_sample = self.theano_rng.binomial(size=h_mean.shape, n=1, p=h_mean,
                                            dtype=theano.config.floatX)
        return h_mean, h_sample

    def sample_v_given_h(self, h_sample):
        """Mean and binary sample of the visible units given hidden units."""
        v_mean = T.nnet.sigmoid(T.dot(h_sample, self.W.T) + self.vbias)
        v_sample = self.theano_rng.binomial(size=v_mean.shape, n=1, p=v_mean,
                                            dtype=theano.config.floatX)
        return v_mean, v_sample

    def get_cost_updates(self, v_input, lr):
        """CD-1 parameter updates and a reconstruction-error monitor."""
        _, h0_sample = self.sample_h_given_v(v_input)
        v1_mean, v1_sample = self.sample_v_given_h(h0_sample)
        chain_end = v1_sample
        cost = T.mean(self.free_energy(v_input)) - T.mean(self.free_energy(chain_end))
        # The negative phase's sample is data, not a function of the weights.
        gparams = T.grad(cost, self.params, consider_constant=[chain_end])
        updates = OrderedDict()
        for gparam, param in zip(gparams, self.params, strict=True):
            updates[param] = param - gparam * T.cast(lr, dtype=theano.config.floatX)
        monitor = T.mean(T.sum((v_input - v1_mean) ** 2, axis=1))
        return monitor, updates


def build(mode=None):
    """Compile ``train_rbm(index)`` over minibatches of a shared data set; see README.md."""
    train_set_x = theano.shared(make_data(), name="train_set_x")
    n_batches = N_EXAMPLES // BATCH_SIZE

    index = T.iscalar("index")
    x = T.matrix("x")
    rbm = RBM(N_VISIBLE, N_HIDDEN, np.random.RandomState(SEED + 1), RandomStreams(SEED + 2))
    cost, updates = rbm.get_cost_updates(x, lr=LEARNING_RATE)
    train_rbm = theano.function(
        [index],
        cost,
        updates=updates,
        givens={x: train_set_x[index * BATCH_SIZE:(index + 1) * BATCH_SIZE]},
        mode=mode,
        name="train_rbm",
    )
    return {
        "functions": {"train_rbm": train_rbm},
        "inputs": {"train_rbm": [(i,) for i in range(n_batches)]},
        "shared": {p.name: p for p in rbm.params},
        "n_batches": n_batches,
    }


def main(mode=None):
    """Train a few epochs; return the first and last epoch's reconstruction error."""
    built = build(mode)
    train_rbm = built["functions"]["train_rbm"]
    epoch_costs = []
    for _ in range(EPOCHS):
        epoch_costs.append(float(np.mean([train_rbm(i) for i in range(built["n_batches"])])))
    result = {"first_cost": epoch_costs[0], "final_cost": epoch_costs[-1],
              "loss_fell": epoch_costs[-1] < epoch_costs[0]}
    print(f"rbm: reconstruction error {epoch_costs[0]:.4f} -> {epoch_costs[-1]:.4f}")
    return result


if __name__ == "__main__":
    main()

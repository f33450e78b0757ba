"""``MRG_RandomStreams`` under Theano's name: the same streams as RandomStreams.

Theano's MRG generator ran on the GPU; here it is RandomStreams with an ``rstate``
attribute (the seed), so tutorial code such as ``copy_random_state`` runs unchanged.
"""
from verigraph.tensor.random.streams import RandomStreams


class MRG_RandomStreams(RandomStreams):
    """RandomStreams with Theano's MRG name and its ``rstate`` attribute."""

    def __init__(self, seed=12345):
        super().__init__(seed)
        self.rstate = seed

    def seed(self, seed=None):
        """Re-seed every stream (and record the seed as ``rstate``)."""
        super().seed(seed)
        if seed is not None:
            self.rstate = seed


__all__ = ["MRG_RandomStreams"]

"""Theano's ``theano.tensor.shared_randomstreams`` path for RandomStreams."""
from verigraph.tensor.random.streams import RandomStreams  # noqa: F401

__all__ = ["RandomStreams"]

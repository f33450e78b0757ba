"""Random draws: the rng Type, the RandomVariable Op, and RandomStreams."""
from verigraph.tensor.random.op import RandomTensorVariable, RandomVariable  # noqa: F401
from verigraph.tensor.random.streams import RandomStreams  # noqa: F401
from verigraph.tensor.random.type import (RandomGeneratorType,  # noqa: F401
                                          SharedRandomGenerator, random_generator_type,
                                          shared_rng)

"""The Type of random-generator values and shared variables holding a generator."""
from __future__ import annotations

import copy
import pickle

import numpy as np

from verigraph.compile.shared import SharedVariable
from verigraph.graph.basic import Variable
from verigraph.graph.type import Type

GENERATOR_CLASSES = (np.random.Generator, np.random.RandomState)


def generator_state(value):
    """Plain-data state of a Generator or RandomState (for equality and signatures)."""
    if isinstance(value, np.random.Generator):
        return ("Generator", value.bit_generator.state)
    state = value.get_state(legacy=False)
    return ("RandomState", state)


def _freeze(obj):
    # States are nested dicts/arrays; pickling gives a hashable, exact summary.
    return pickle.dumps(obj, protocol=4)


class RandomGeneratorType(Type):
    """Values are NumPy ``Generator`` or ``RandomState`` objects (an rng state).

    All instances are equal: an rng variable fits wherever another does.
    """

    def filter(self, value, strict=False, allow_downcast=None, name=None):
        """Accept a Generator or RandomState; anything else is a TypeError naming it."""
        if isinstance(value, GENERATOR_CLASSES):
            return value
        what = f"input {name!r}" if name else "value"
        raise TypeError(f"{what}: expected a numpy.random.Generator or RandomState, got "
                        f"{type(value).__name__} {value!r:.60}")

    def values_eq(self, a, b):
        """Same class and same internal state."""
        if type(a) is not type(b):
            return False
        return _freeze(generator_state(a)) == _freeze(generator_state(b))

    def value_signature(self, data):
        """Hashable summary of the generator's state."""
        return (type(data).__name__, _freeze(generator_state(data)))

    def value_str(self, data):
        """Short printable form."""
        return f"<{type(data).__name__}>"

    def convert_variable(self, var):
        """An rng variable converts to itself; anything else does not fit."""
        return var if isinstance(var.type, RandomGeneratorType) else None

    def __eq__(self, other):
        return type(other) is RandomGeneratorType

    def __hash__(self):
        return hash(RandomGeneratorType)

    def __str__(self):
        return "RandomGeneratorType"

    __repr__ = __str__


class RandomGeneratorVariable(Variable):
    """A symbolic rng state (input or output of a RandomVariable node)."""

    __slots__ = ()


RandomGeneratorType.variable_class = RandomGeneratorVariable
random_generator_type = RandomGeneratorType()


class SharedRandomGenerator(SharedVariable):
    """A shared variable whose value is a Generator/RandomState.

    Subclasses SharedVariable so ``function`` treats it like any shared value; values are
    deep-copied on get/set (unless ``borrow``) because generators are mutable objects.
    """

    __slots__ = ()

    def get_value(self, borrow=False, return_internal_type=False):
        """The generator (a deep copy unless ``borrow=True``)."""
        v = self.container[0]
        return v if borrow else copy.deepcopy(v)

    def set_value(self, new_value, borrow=False):
        """Replace the generator; it must be a Generator or RandomState."""
        try:
            v = self.type.filter(new_value, name=self.name or "shared rng")
        except TypeError as exc:
            raise TypeError(f"set_value of {self.name or 'shared rng'}: {exc}") from None
        self.container[0] = v if borrow else copy.deepcopy(v)

    def clone(self):
        """Clones share the storage container."""
        c = SharedRandomGenerator(self.type, None, self.name)
        c.container = self.container
        c.default_update = self.default_update
        return c

    def zero(self, borrow=False):
        """Generators have no zero value."""
        raise TypeError("a shared random generator cannot be zeroed")

    def __reduce__(self):
        return (_rebuild_shared_rng, (self.container[0], self.name, self.default_update))

    def __str__(self):
        return self.name or "<shared rng>"


def _rebuild_shared_rng(value, name, default_update):
    s = SharedRandomGenerator(random_generator_type, value, name)
    s.default_update = default_update
    return s


def shared_rng(value, name=None, borrow=False):
    """A shared variable holding a Generator/RandomState (copied unless ``borrow``)."""
    value = random_generator_type.filter(value, name=name)
    return SharedRandomGenerator(random_generator_type,
                                 value if borrow else copy.deepcopy(value), name)

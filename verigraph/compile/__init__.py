"""Compiling graphs into callables: function, In/Param/Out, shared variables."""
from verigraph.compile.function import function  # noqa: F401
from verigraph.compile.io import In, Out, Param  # noqa: F401
from verigraph.compile.shared import SharedVariable, shared  # noqa: F401

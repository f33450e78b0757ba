"""Suite-wide settings: compiled small-call kernels are built inside the triggering call.

In normal use a node's small calls move to C in a background thread (ckernels.small);
here the build happens synchronously, so which kernel ran never depends on thread timing.
"""
from verigraph.link.ckernels import small

small.BACKGROUND = False

"""Shared setup for the C kernel tests: fixed-source libraries (``skinny``, ``dense``) and
tiered small-call kernels."""
from __future__ import annotations

from verigraph.configparser import config
from verigraph.link.ckernels import small


def built_in_the_call(module, cache_name, tmp_path_factory, monkeypatch):
    """Generator for an autouse fixture: ``module``'s library is built inside the first
    eligible call (not in the background), into a per-session cache, C kernels on."""
    monkeypatch.setenv("VERIGRAPH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / cache_name))
    monkeypatch.setattr(small, "BACKGROUND", False)
    module.forget()
    with config.change_flags(c_kernels=True):
        yield
    module.forget()


def small_kernels_built_in_the_call(cache_name, tmp_path_factory, monkeypatch):
    """Generator for an autouse fixture: tiered small-call kernels are built inside the
    first call (``SMALL_AFTER_CALLS`` 1, not in the background) into a per-session cache,
    C kernels on."""
    monkeypatch.setenv("VERIGRAPH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / cache_name))
    monkeypatch.setattr(small, "SMALL_AFTER_CALLS", 1)
    monkeypatch.setattr(small, "BACKGROUND", False)
    with config.change_flags(c_kernels=True):
        yield

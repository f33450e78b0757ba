"""Global configuration: typed flags, VERIGRAPH_FLAGS parsing, change_flags context manager."""
from __future__ import annotations

import contextlib
import os
import warnings

_FLAGS = {
    # name: (default, converter, allowed values or None, doc)
    "floatX": ("float64", str, ("float64", "float32", "float16"), "default float dtype"),
    "mode": ("FAST_RUN", str, None, "default compilation mode"),
    "optimizer_excluding": ("", str, None, "':'-separated rule names or tags to exclude"),
    "optimizer_including": ("", str, None, "':'-separated rule names or tags to include"),
    "optimizer_requiring": ("", str, None, "':'-separated rule names that must exist"),
    "crosscheck": ("first", str, None, "off | first | sample:P | always"),
    "profile": (False, lambda v: str(v).lower() in ("1", "true", "yes"), None,
                "profile every function, print a summary at exit"),
    "compute_test_value": ("off", str, ("off", "ignore", "warn", "raise"), "accepted, unused"),
    "cast_policy": ("numpy", str, ("numpy",), "dtype promotion follows NumPy 2 rules"),
    "on_unused_input": ("raise", str, ("raise", "warn", "ignore"), "default for function()"),
    "c_kernels": (True, lambda v: str(v).lower() in ("1", "true", "yes"), None,
                  "fused elementwise kernels and softmax run as generated C (needs a C compiler)"),
    "nan_guard": (False, lambda v: str(v).lower() in ("1", "true", "yes"), None,
                  "DebugMode also reports non-finite values from finite inputs"),
}


class Config:
    """The one mutable global: flags readable as attributes, set from VERIGRAPH_FLAGS."""

    def __init__(self):
        object.__setattr__(self, "_values", {k: v[0] for k, v in _FLAGS.items()})

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"config has no flag {name!r}; known: {sorted(_FLAGS)}") from None

    def __setattr__(self, name, value):
        if name not in _FLAGS:
            raise AttributeError(f"config has no flag {name!r}; known: {sorted(_FLAGS)}")
        _default, conv, allowed, _doc = _FLAGS[name]
        value = conv(value)
        if allowed is not None and value not in allowed:
            raise ValueError(f"config.{name} must be one of {allowed}, got {value!r}")
        if name == "crosscheck":
            parse_crosscheck(value)
        self._values[name] = value

    @contextlib.contextmanager
    def change_flags(self, **kwargs):
        """Temporarily set flags: ``with config.change_flags(floatX='float32'): ...``."""
        old = {k: getattr(self, k) for k in kwargs}
        try:
            for k, v in kwargs.items():
                setattr(self, k, v)
            yield self
        finally:
            for k, v in old.items():
                self._values[k] = v

    def load_env(self, text=None, strict=None):
        """Apply ``name=value`` pairs from VERIGRAPH_FLAGS (comma-separated).

        Read at import time, a bad entry (an unknown flag copied from THEANO_FLAGS, say)
        is reported with a warning and skipped, so ``import verigraph`` still works;
        called with text (``strict`` defaults to True then) it raises instead.
        """
        strict = (text is not None) if strict is None else strict
        text = os.environ.get("VERIGRAPH_FLAGS", "") if text is None else text
        for item in filter(None, (s.strip() for s in text.split(","))):
            try:
                if "=" not in item:
                    raise ValueError(f"VERIGRAPH_FLAGS entry {item!r} is not name=value")
                k, v = item.split("=", 1)
                setattr(self, k.strip(), v.strip())
            except (AttributeError, ValueError) as exc:
                if strict:
                    raise
                warnings.warn(f"VERIGRAPH_FLAGS: ignoring {item!r}: {exc}", stacklevel=2)


def parse_crosscheck(value):
    """Return ``(policy, probability)`` for a crosscheck flag value, or raise ValueError."""
    if value in ("off", "first", "always"):
        return value, None
    if value.startswith("sample:"):
        try:
            p = float(value.split(":", 1)[1])
        except ValueError:
            p = -1.0
        if 0.0 <= p <= 1.0:
            return "sample", p
    raise ValueError(f"config.crosscheck must be off, first, always or sample:P with 0<=P<=1, "
                     f"got {value!r}")


config = Config()
config.load_env()
change_flags = config.change_flags

"""Modes: a rewrite query + a linker + checks. FAST_RUN, FAST_COMPILE, DebugMode, NanGuardMode."""
from __future__ import annotations

from verigraph.configparser import config


def _split(flag):
    return tuple(t for t in flag.split(":") if t) if flag else ()


class Mode:
    """How a function compiles: which rules (by tag/name) and which linker (``fast``/``reference``)."""

    def __init__(self, linker="fast", optimizer="fast_run", include=(), exclude=(), require=(),
                 name=None):
        if linker in ("cvm", "c|py", "py", "vm", "c", "cvm_nogc", "vm_nogc", "numba", "c|py_nogc"):
            linker = "fast"  # Theano linker names all mean "our fast linker"
        if linker not in ("fast", "reference"):
            raise ValueError(f"Mode: linker must be 'fast' or 'reference', got {linker!r}")
        if optimizer not in ("fast_run", "fast_compile", None, "None", "merge"):
            raise ValueError(f"Mode: optimizer must be fast_run, fast_compile, merge or None, got "
                             f"{optimizer!r}")
        self.linker = linker
        self.optimizer = None if optimizer == "None" else optimizer
        self.include, self.exclude, self.require = tuple(include), tuple(exclude), tuple(require)
        self.name = name or f"Mode(linker={linker}, optimizer={optimizer})"

    def __repr__(self):
        return self.name

    def _copy(self, **kw):
        m = type(self).__new__(type(self))
        m.__dict__.update(self.__dict__)
        m.__dict__.update(kw)
        return m

    def including(self, *tags):
        """A copy that also runs rules with these names or tags."""
        return self._copy(include=self.include + tags)

    def excluding(self, *tags):
        """A copy that skips rules with these names or tags."""
        return self._copy(exclude=self.exclude + tags)

    def requiring(self, *tags):
        """A copy that insists these rules exist and runs them."""
        return self._copy(require=self.require + tags)

    def rules(self):
        """The selected rules, honouring config.optimizer_including/excluding/requiring."""
        import verigraph.rewriting  # noqa: F401  (registers the rules)
        from verigraph.rewriting.db import rules
        base = {"fast_run": ("default",), "fast_compile": ("fast_compile",),
                "merge": ("merge",), None: ()}[self.optimizer]
        include = base + self.include + _split(config.optimizer_including)
        exclude = self.exclude + _split(config.optimizer_excluding)
        require = self.require + _split(config.optimizer_requiring)
        return rules.query(include=include, exclude=exclude, require=require)

    def make_program(self, fgraph, original):
        """Link ``fgraph`` (rewritten) into a callable; ``original`` is the unrewritten graph."""
        if self.linker == "reference":
            from verigraph.link.reference import ReferenceProgram
            return ReferenceProgram(fgraph)
        from verigraph.link.fast import FastProgram
        return FastProgram(fgraph)

    crosscheck_allowed = True


FAST_RUN = Mode("fast", "fast_run", name="FAST_RUN")
FAST_COMPILE = Mode("reference", "fast_compile", name="FAST_COMPILE")


def get_mode(mode):
    """A Mode from a name (FAST_RUN, FAST_COMPILE, DebugMode, NanGuardMode) or a Mode."""
    if mode is None:
        mode = config.mode
    if isinstance(mode, Mode):
        return mode
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a name or a Mode, got {type(mode).__name__}")
    key = mode.upper().replace("_", "")
    if key in ("FASTRUN", "CVM", "NUMBA", "C", "PY", "VM"):
        return FAST_RUN
    if key == "FASTCOMPILE":
        return FAST_COMPILE
    if key in ("DEBUGMODE", "DEBUG"):
        from verigraph.modes.debug import DebugMode
        return DebugMode()
    if key == "NANGUARDMODE":
        from verigraph.modes.debug import NanGuardMode
        return NanGuardMode()
    raise ValueError(f"unknown mode {mode!r}; use FAST_RUN, FAST_COMPILE, DebugMode or "
                     f"NanGuardMode")

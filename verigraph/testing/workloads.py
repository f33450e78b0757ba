"""Finding and running workloads for ``verigraph check`` / ``profile``: targets, modes, findings.

A target is a bundled workload name (``join_shape``), a ``.py`` file, a directory of
them, or ``module:function`` / ``file.py:function``. A module with ``build()`` (the
protocol in ``profiles/README.md``) has each compiled function called on its inputs,
every finding caught per call; otherwise its ``main()`` (or the named function, or
the script itself) runs with ``config.mode`` set, and a finding ends it.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import runpy
import sys
import time
from dataclasses import dataclass, field


class TargetError(Exception):
    """A target that cannot be found or loaded (a one-line message for the CLI)."""


@dataclass
class Target:
    """What to run: a label, how to load its module, and which callable (if named)."""

    label: str
    module_name: str | None = None       # importable module
    path: str | None = None              # or a file path
    function: str | None = None          # module:function

    def load(self):
        """Import the module (top-level code runs now: call inside the check's flags)."""
        if self.module_name is not None:
            try:
                return importlib.import_module(self.module_name)
            except ModuleNotFoundError as exc:
                if exc.name and self.module_name.startswith(exc.name):
                    raise TargetError(f"{self.label}: no module named {self.module_name!r} "
                                      f"(run from the directory that contains it)") from None
                raise
        name = "_verigraph_target_" + "".join(c if c.isalnum() else "_" for c in self.path)
        spec = importlib.util.spec_from_file_location(name, self.path)
        if spec is None or spec.loader is None:
            raise TargetError(f"{self.label}: cannot load {self.path} as Python")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        # A script importing its siblings expects its own directory on the path.
        directory = os.path.dirname(os.path.abspath(self.path))
        added = directory not in sys.path
        if added:
            sys.path.insert(0, directory)
        try:
            spec.loader.exec_module(module)
        finally:
            if added:
                sys.path.remove(directory)
        return module


@dataclass
class Finding:
    """One CheckError caught while running ``workload``'s ``function`` (call number ``call``)."""

    workload: str
    function: str
    call: int | None
    error: BaseException
    reproducer: str | None = None

    @property
    def check(self):
        data = getattr(self.error, "data", None)
        return getattr(data, "check", type(self.error).__name__)

    @property
    def headline(self):
        text = str(self.error).strip().splitlines()
        return text[0] if text else type(self.error).__name__

    def signature(self):
        """What makes two findings the same (repeated calls report the same defect)."""
        d = getattr(self.error, "data", None)
        return (self.function, type(self.error).__name__, getattr(d, "node", None),
                getattr(d, "rule", None), self.headline)

    def to_dict(self):
        """Plain data: the finding's own ``to_dict()`` plus where it happened."""
        to_dict = getattr(self.error, "to_dict", None)
        data = dict(to_dict()) if callable(to_dict) else {"check": self.check,
                                                           "message": str(self.error)}
        data.update(workload=self.workload, function=self.function, call=self.call,
                    type=type(self.error).__name__, text=str(self.error),
                    reproducer=self.reproducer)
        return _jsonable(data)


@dataclass
class WorkloadResult:
    """Outcome of one target: findings, a crash (one line), timing, expectation."""

    name: str
    expect_findings: bool = False
    findings: list = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    calls: int = 0
    replay: dict = field(default_factory=dict)   # how to rerun a call (for reproducers)

    @property
    def status(self):
        if self.error is not None:
            return "error"
        if self.expect_findings:
            return "expected finding" if self.findings else "missing finding"
        return "findings" if self.findings else "ok"

    @property
    def passed(self):
        return self.status in ("ok", "expected finding")

    def to_dict(self):
        """Plain data for check.json."""
        return {"workload": self.name, "status": self.status, "passed": self.passed,
                "expect_findings": self.expect_findings, "seconds": round(self.seconds, 4),
                "calls": self.calls, "error": self.error,
                "findings": [f.to_dict() for f in self.findings]}


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return str(value)


# -- resolving targets ------------------------------------------------------------------------------
def bundled_workloads():
    """``profiles.WORKLOADS`` (importing ``profiles`` from the current directory)."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        profiles = importlib.import_module("profiles")
    except ModuleNotFoundError:
        raise TargetError("no bundled workloads here: run from the repository root (where "
                          "profiles/ is), or name files or module:function targets") from None
    names = getattr(profiles, "WORKLOADS", None)
    if not names:
        raise TargetError(f"{profiles.__file__}: has no WORKLOADS list")
    return list(names)


def resolve_targets(args):
    """Targets for the command-line arguments; no arguments means every bundled workload."""
    if not args:
        return [Target(name, module_name=f"profiles.{name}") for name in bundled_workloads()]
    targets = []
    for arg in args:
        targets.extend(_resolve_one(arg))
    return targets


def _resolve_one(arg):
    path, function = arg, None
    if ":" in arg and not os.path.exists(arg):
        path, function = arg.rsplit(":", 1)
        if not function.isidentifier():
            raise TargetError(f"{arg}: {function!r} is not a function name (module:function)")
    if os.path.isdir(path):
        if function:
            raise TargetError(f"{arg}: a directory cannot name a function")
        files = sorted(f for f in os.listdir(path) if f.endswith(".py") and not f.startswith("_"))
        if not files:
            raise TargetError(f"{arg}: no .py files in this directory")
        return [Target(os.path.join(path, f), path=os.path.join(path, f)) for f in files]
    if path.endswith(".py") or os.sep in path:
        if not os.path.isfile(path):
            raise TargetError(f"{arg}: no such file")
        return [Target(arg, path=path, function=function)]
    if function is None:
        try:
            names = bundled_workloads()
        except TargetError:
            names = []
        if path in names:
            return [Target(path, module_name=f"profiles.{path}")]
        if importlib.util.find_spec(path.split(".")[0]) is None:
            raise TargetError(f"{arg}: no such file, bundled workload or module")
    elif importlib.util.find_spec(path.split(".")[0]) is None:
        raise TargetError(f"{arg}: no module named {path!r}")
    return [Target(arg, module_name=path, function=function)]


# -- modes ---------------------------------------------------------------------------------------
def check_flags(mode, crosscheck):
    """The config flags a check runs under: the mode, and the cross-check policy."""
    flags = {"mode": mode}
    if crosscheck:
        flags["crosscheck"] = crosscheck
    return flags


def collecting_mode(mode):
    """The Mode object handed to ``build(mode=...)``: DebugMode collects every finding."""
    from verigraph.modes import get_mode
    try:
        resolved = get_mode(mode)
    except ImportError as exc:
        raise TargetError(f"mode {mode} is not available ({exc})") from None
    except ValueError as exc:
        raise TargetError(str(exc)) from None
    if type(resolved).__name__ == "DebugMode":
        from verigraph.modes.debug import DebugMode
        return DebugMode(on_error="collect")
    return resolved


# -- running --------------------------------------------------------------------------------------
def _accepts(fn, name):
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _calls_for(built, name):
    args = built["inputs"][name]
    return list(args() if callable(args) else args)


def _one_line(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def run_target(target, mode="DebugMode", crosscheck="always", max_calls=None, profile=False):
    """Run one target under ``mode``; every CheckError becomes a Finding, anything else an error.

    ``max_calls`` limits calls per compiled function for build-protocol modules (None: all).
    """
    from verigraph.checks.errors import CheckError
    from verigraph.configparser import config
    result = WorkloadResult(target.label)
    flags = check_flags(mode, crosscheck)
    if profile:
        flags["profile"] = True
    t0 = time.perf_counter()
    try:
        with config.change_flags(**flags):
            module = target.load()
            result.expect_findings = bool(getattr(module, "EXPECT_FINDINGS", False))
            if target.function is not None:
                fn = getattr(module, target.function, None)
                if not callable(fn):
                    raise TargetError(f"{target.label}: module {module.__name__} has no "
                                      f"function {target.function!r}")
                _run_main(result, target.function, fn, CheckError)
            elif callable(getattr(module, "build", None)):
                _run_built(result, target, module, mode, max_calls, CheckError)
            elif callable(getattr(module, "main", None)):
                _run_main(result, "main", module.main, CheckError)
            elif target.path is not None:
                _run_main(result, "<script>", lambda: runpy.run_path(target.path,
                                                                     run_name="__main__"),
                          CheckError)
            else:
                raise TargetError(f"{target.label}: has neither build() nor main()")
    except TargetError:
        raise
    except CheckError as exc:  # raised while loading the module
        result.findings.append(Finding(target.label, "<import>", None, exc))
    except SystemExit as exc:
        if exc.code not in (None, 0):
            result.error = f"SystemExit: exit status {exc.code}"
    except Exception as exc:  # noqa: BLE001 - a crashing workload is reported in one line
        result.error = _one_line(exc)
    result.seconds = time.perf_counter() - t0
    return result


def _run_main(result, name, fn, check_error):
    try:
        fn()
    except check_error as exc:
        result.findings.append(Finding(result.name, name, None, exc))
    result.calls += 1


def _run_built(result, target, module, mode, max_calls, check_error):
    mode_obj = collecting_mode(mode)
    build = module.build
    built = build(mode=mode_obj) if _accepts(build, "mode") else build()
    if not isinstance(built, dict) or "functions" not in built or "inputs" not in built:
        raise TargetError(f"{target.label}: build() must return a dict with 'functions' and "
                          f"'inputs' (see profiles/README.md)")
    result.expect_findings = result.expect_findings or bool(built.get("expect_findings"))
    result.replay = {"module": target.module_name, "path": target.path}
    for name, fn in built["functions"].items():
        seen = set()

        def add(error, call):
            f = Finding(result.name, name, call, error)
            if f.signature() not in seen:
                seen.add(f.signature())
                result.findings.append(f)

        calls = _calls_for(built, name)
        if max_calls:
            calls = calls[:max_calls]
        for k, args in enumerate(calls):
            before = len(getattr(fn, "findings", ()))
            try:
                fn(*args)
            except check_error as exc:
                add(exc, k)
                break  # state after a failed call is not what later calls expect
            finally:
                result.calls += 1
            for err in list(getattr(fn, "findings", ()))[before:]:
                add(err, k)


# -- reproducers ----------------------------------------------------------------------------------
def write_reproducer(finding, result, outdir, index, mode):
    """Write a reproducer for ``finding`` into ``outdir``; returns its path.

    Uses ``finding.error.reproducer(dir)`` when the finding offers one, else a script
    that rebuilds the workload and replays the calls up to the failing one.
    """
    os.makedirs(outdir, exist_ok=True)
    own = getattr(finding.error, "reproducer", None)
    if callable(own):
        try:
            path = own(outdir)
            if path:
                return os.fspath(path)
        except Exception:  # noqa: BLE001 - fall back to the replay script
            pass
    safe = "".join(c if c.isalnum() else "_" for c in f"{result.name}_{finding.function}")
    path = os.path.join(outdir, f"finding_{index:02d}_{safe}.py")
    replay = result.replay
    if replay.get("module"):
        load = [f"import {replay['module']} as workload"]
    elif replay.get("path"):
        load = ["import importlib.util",
                f"spec = importlib.util.spec_from_file_location('workload', "
                f"{os.path.abspath(replay['path'])!r})",
                "workload = importlib.util.module_from_spec(spec)",
                "spec.loader.exec_module(workload)"]
    else:
        load = None
    message = "\n".join("    " + line for line in str(finding.error).splitlines())
    lines = [f'"""Reproducer for a verigraph finding in {result.name} ({finding.function}).',
             "", message, "", "Run from the repository root: python " + path,
             '"""', "import sys", "",
             "# The workload and verigraph are imported from where the check ran.",
             f"sys.path.insert(0, {os.getcwd()!r})", "import verigraph  # noqa: E402,F401", ""]
    if load is None or finding.call is None:
        lines += [f"# Rerun the target: verigraph check {result.name} --mode {mode}",
                  "import subprocess",
                  f"sys.exit(subprocess.call(['verigraph', 'check', {result.name!r}, "
                  f"'--mode', {mode!r}]))"]
    else:
        lines += load + [
            f"built = workload.build(mode={mode!r})",
            f"fn = built['functions'][{finding.function!r}]",
            f"args = built['inputs'][{finding.function!r}]",
            "calls = list(args() if callable(args) else args)",
            f"for call in calls[:{finding.call}]:",
            "    fn(*call)",
            f"fn(*calls[{finding.call}])  # raises the finding",
            "print('no finding raised: the defect is fixed')"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return path

"""run_under_pyspy degrades to a message without py-spy, and drives it when present."""
import os
import stat
import sys

from verigraph.profiling import run_under_pyspy


def test_missing_pyspy_gives_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    r = run_under_pyspy(str(script), str(tmp_path / "out"))
    assert not r and r.path is None and "not installed" in r.message


def _fake_pyspy(tmp_path, body):
    exe = tmp_path / "bin" / "py-spy"
    exe.parent.mkdir()
    exe.write_text(f"#!{sys.executable}\n{body}")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe.parent


def test_pyspy_command_and_output(monkeypatch, tmp_path):
    # A stand-in py-spy that checks its arguments and writes the -o file.
    bindir = _fake_pyspy(tmp_path, (
        "import sys\n"
        "a = sys.argv[1:]\n"
        "assert a[:3] == ['record', '-f', 'speedscope'], a\n"
        "open(a[a.index('-o') + 1], 'w').write('{}')\n"))
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    r = run_under_pyspy(str(script), str(tmp_path / "out"))
    assert r and r.path.endswith("pyspy.speedscope.json") and os.path.exists(r.path)


def test_pyspy_permission_failure_is_reported(monkeypatch, tmp_path):
    bindir = _fake_pyspy(tmp_path, (
        "import sys\n"
        "sys.stderr.write('Permission denied (os error 13)')\n"
        "sys.exit(1)\n"))
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    r = run_under_pyspy(str(script), str(tmp_path / "out"))
    assert not r and "SYS_PTRACE" in r.message and "status 1" in r.message

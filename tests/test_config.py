"""Flags from VERIGRAPH_FLAGS: a bad entry at import time warns instead of breaking import."""
import subprocess
import sys

import pytest

from verigraph.configparser import config


def test_unknown_flag_in_the_environment_warns_and_import_still_works():
    env = {"VERIGRAPH_FLAGS": "device=cuda,floatX=float32", "PATH": ""}
    run = subprocess.run([sys.executable, "-c", "import verigraph; print(verigraph.config.floatX)"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "float32"
    assert "ignoring 'device=cuda'" in run.stderr


def test_explicit_load_env_is_strict():
    with config.change_flags():
        with pytest.raises(AttributeError, match="no flag 'device'"):
            config.load_env("device=cuda")

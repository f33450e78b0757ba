"""config flags: change_flags restores values, VERIGRAPH_FLAGS parsing, validation."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph import config


def test_change_flags_sets_and_restores():
    before = (config.floatX, config.mode)
    with config.change_flags(floatX="float32", mode="FAST_COMPILE"):
        assert config.floatX == "float32" and config.mode == "FAST_COMPILE"
        assert T.scalar().dtype == "float32"
        x = T.scalar("x")
        f = vg.function([x], x * 2)
        assert f.maker.mode.name == "FAST_COMPILE"
    assert (config.floatX, config.mode) == before
    with pytest.raises(RuntimeError):
        with vg.change_flags(floatX="float32"):
            raise RuntimeError("restores on errors too")
    assert config.floatX == before[0]


def test_flag_validation():
    with pytest.raises(ValueError, match="floatX"):
        config.floatX = "float8"
    with pytest.raises(AttributeError, match="no flag 'floatx'"):
        config.floatx = "float32"
    with pytest.raises(ValueError, match="crosscheck"):
        with config.change_flags(crosscheck="sometimes"):
            pass
    with config.change_flags(crosscheck="sample:0.5"):
        assert config.crosscheck == "sample:0.5"


def test_load_env_parses_flag_strings():
    with config.change_flags(floatX=config.floatX, mode=config.mode):
        config.load_env("floatX=float32,mode=FAST_COMPILE")
        assert config.floatX == "float32" and config.mode == "FAST_COMPILE"
        config.load_env(" floatX = float64 , ")
        assert config.floatX == "float64"
        with pytest.raises(ValueError, match="name=value"):
            config.load_env("floatX")
        with pytest.raises(AttributeError, match="no flag"):
            config.load_env("nosuchflag=1")


def test_verigraph_flags_environment_variable_at_import():
    env = dict(os.environ, VERIGRAPH_FLAGS="floatX=float32,mode=FAST_COMPILE",
               PYTHONPATH=os.pathsep.join(sys.path))
    code = ("import verigraph as vg, verigraph.tensor as T; "
            "print(vg.config.floatX, vg.config.mode, T.matrix().dtype)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["float32", "FAST_COMPILE", "float32"]

"""kgan turns TensorFlow's oneDNN CPU kernels on only where nobody chose and it still can."""

import os
import subprocess
import sys

from kgan import _cpu

LINUX_X86 = ("x86_64", "Linux")


def test_sets_the_variable_when_nobody_chose():
    env = {}
    assert _cpu.prefer_onednn(env, {}, *LINUX_X86) == "kgan"
    assert env == {"TF_ENABLE_ONEDNN_OPTS": "1"}


def test_keeps_the_users_choice_zero_included():
    for value in ("0", "1"):
        env = {"TF_ENABLE_ONEDNN_OPTS": value}
        assert _cpu.prefer_onednn(env, {}, *LINUX_X86) == "user"
        assert env == {"TF_ENABLE_ONEDNN_OPTS": value}


def test_too_late_after_tensorflow_and_off_elsewhere():
    env = {}
    assert _cpu.prefer_onednn(env, {"tensorflow": object()}, *LINUX_X86) == "tensorflow"
    assert _cpu.prefer_onednn(env, {}, "aarch64", "Linux") == "platform"
    assert _cpu.prefer_onednn(env, {}, "x86_64", "Darwin") == "platform"
    assert env == {}


def _state(code, env):
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300, check=True).stdout
    return out.strip().splitlines()[-1]


def test_import_order_decides_in_a_fresh_process():
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    show = "import kgan._cpu as c; print(c.DECIDED_BY, c.onednn_enabled())"
    first = _state("import kgan; " + show, env)
    late = _state("import tensorflow, kgan; " + show, env)
    chosen = _state("import kgan; " + show, {**env, "TF_ENABLE_ONEDNN_OPTS": "0"})
    assert chosen == "user False"  # the user's 0 holds: oneDNN stays off
    if _cpu.prefer_onednn({}, {}) == "kgan":  # Linux x86-64, where kgan may decide
        assert first == "kgan True"
        assert late.startswith("tensorflow ")  # TF's own default for this CPU holds

"""TensorFlow's oneDNN CPU kernels, on by default wherever kgan is imported first.

TensorFlow turns its oneDNN kernels on by default only on CPUs with
AVX-512 VNNI / BF16 or AMX; elsewhere (plain AVX2 machines) it runs Eigen's
convolutions, whose transposed-convolution forward and stride-2 backward
passes are slow. Measured on a 2-core AMD EPYC (AVX2), batch 256
(``benchmarks/README.md``, Throughput): kgan ``fit`` 118 -> 198 img/s on the
TF DCGAN tutorial's networks and 331 -> 563 on kgan's DCGAN with
``TF_ENABLE_ONEDNN_OPTS=1``, ahead of PyTorch eager (147 / 403). The variable
is read once, when TensorFlow loads, so this module must not import it.
"""

from __future__ import annotations

import os
import platform
import sys

VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def prefer_onednn(environ=None, modules=None, machine=None, system=None):
    """Sets ``TF_ENABLE_ONEDNN_OPTS=1`` when nobody chose and TensorFlow is not loaded yet.

    Only on Linux x86-64 (the CPUs the measurement covers). A value the user
    set, ``0`` included, is kept; after ``import tensorflow`` it is too late
    and nothing changes.

    Args:
        environ, modules, machine, system: ``os.environ``, ``sys.modules``,
            ``platform.machine()`` and ``platform.system()`` (for tests).

    Returns:
        Who decided: ``"user"``, ``"kgan"``, ``"tensorflow"`` (already
        imported: its own default holds) or ``"platform"`` (not Linux x86-64).

    Example:
        >>> prefer_onednn({}, {}, "x86_64", "Linux")
        'kgan'
    """
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    machine = platform.machine() if machine is None else machine
    system = platform.system() if system is None else system
    if VARIABLE in environ:
        return "user"
    if "tensorflow" in modules:
        return "tensorflow"
    if system != "Linux" or machine.lower() not in ("x86_64", "amd64"):
        return "platform"
    environ[VARIABLE] = "1"
    return "kgan"


def onednn_enabled():
    """Whether TensorFlow's oneDNN CPU kernels are on in this process (imports TensorFlow)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


DECIDED_BY = prefer_onednn()

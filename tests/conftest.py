"""Test session setup.

The CPU is split into 2 logical devices before TensorFlow initialises, so
MirroredStrategy tests run two real replicas on a CPU-only machine. Tests
that do not open a strategy run on the first device as usual.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# TensorFlow before kgan: the suite runs TF's own CPU-kernel default for this
# machine (kgan/_cpu.py leaves it alone once TF is loaded), and subprocesses
# are told the same, so a fresh process computes what this one does. The
# replica and batch-size comparisons' tolerances were set on those kernels
# (oneDNN on an AVX2 CPU blocks matmuls by batch size: generate() batch by
# batch differed by 7e-8). tests/test_cpu.py covers kgan's own default.
import tensorflow  # noqa: E402,F401  isort: skip
from kgan import _cpu  # noqa: E402

os.environ.setdefault(_cpu.VARIABLE, "1" if _cpu.onednn_enabled() else "0")

from kgan import distribute  # noqa: E402

distribute.split_cpu(2)

"""Test session setup.

The CPU is split into 2 logical devices before TensorFlow initialises, so
MirroredStrategy tests run two real replicas on a CPU-only machine. Tests
that do not open a strategy run on the first device as usual.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kgan import distribute  # noqa: E402

distribute.split_cpu(2)

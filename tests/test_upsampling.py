"""Runs ``upsampling_checks.py`` (sub-pixel vs transposed convolution) in a fresh process.

After several hundred tests in one process, TensorFlow's oneDNN kernels twice
failed on these checks' odd convolution shapes (a segfault inside
``tf.random.set_seed``, then "could not create a primitive descriptor for the
reorder primitive" in Conv2DBackpropFilter), while the same checks pass in a
new process. A fresh interpreter keeps that state from deciding the result;
every check still runs, and any failure fails this test with pytest's report.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_upsampling_checks_pass_in_a_fresh_process():
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         os.path.join("tests", "upsampling_checks.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout, proc.stdout[-2000:]

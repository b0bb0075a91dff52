"""The shared MNIST files, and the rule for tests that need them.

Locally a missing ``../shared/data/mnist`` skips those tests; under CI
(``CI`` set, as ``.ci/run`` runs) it FAILS them, so a CI run can never pass
with the real-data tests silently skipped.
"""

import functools
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist")


def needs_mnist(test):
    if os.path.isdir(MNIST):
        return test
    if os.environ.get("CI"):
        @functools.wraps(test)
        def missing(*args, **kwargs):
            pytest.fail(f"{MNIST} is missing: CI must run with ../shared beside the clone.")
        return missing
    return pytest.mark.skip(reason=f"{MNIST} not present")(test)

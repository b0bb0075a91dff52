"""Loads ``kgan/cli.py`` by file path, without running ``kgan/__init__`` (which imports TensorFlow).

The entry points in this folder parse their flags with it first, so ``--help``,
a bad flag and ``--dry-run`` answer at once; only a real run imports kgan.
"""

import importlib.util
import os
import sys


def load_cli():
    """Returns the ``kgan.cli`` module, loaded standalone (standard library only).

    Example:
        >>> load_cli().build_parser().parse_args(["--loss", "hinge"]).loss
        'hinge'
    """
    if "kgan.cli" in sys.modules:
        return sys.modules["kgan.cli"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.find_spec("kgan")  # finds the package without executing it
    if spec is None or not spec.submodule_search_locations:
        sys.path.insert(0, root)  # a checkout run without installing kgan
        spec = importlib.util.find_spec("kgan")
    path = os.path.join(list(spec.submodule_search_locations)[0], "cli.py")
    if not os.path.isfile(path):  # an older kgan installed elsewhere: use this checkout's
        path = os.path.join(root, "kgan", "cli.py")
    cli_spec = importlib.util.spec_from_file_location("_kgan_cli_standalone", path)
    module = importlib.util.module_from_spec(cli_spec)
    sys.modules[cli_spec.name] = module  # dataclasses look their module up by name
    cli_spec.loader.exec_module(module)
    return module

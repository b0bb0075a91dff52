"""Export a trained kgan model's generator for TensorFlow Serving.

Thin command line over :func:`kgan.export.export_generator`: loads a
``.keras`` model, writes ``<base-dir>/<model-name>/<version>/`` and, unless
``--no-verify``, checks that the export reproduces ``model.generate`` for a
few seeds before printing the version directory.

Example:
    python serving/export.py runs/mnist/model.keras --base-dir serving/models \\
        --model-name mnist_dcgan
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="path to a .keras file saved from a kgan model")
    p.add_argument("--base-dir", default="serving/models",
                   help="folder holding one sub-folder per served model (default: %(default)s)")
    p.add_argument("--model-name", default="generator",
                   help="served model name, TF Serving's --model_name (default: %(default)s)")
    p.add_argument("--version", type=int, default=None,
                   help="version number (default: one more than the highest existing)")
    p.add_argument("--warmup-batch-sizes", default="1",
                   help="comma-separated batch sizes of the warmup requests, e.g. the "
                        "allowed_batch_sizes of your batching config (default: %(default)s)")
    p.add_argument("--max-batch", type=int, default=1024,
                   help="most images (rows of z, or seeds) one request may ask for; larger "
                        "requests fail with INVALID_ARGUMENT (default: %(default)s)")
    p.add_argument("--no-warmup", action="store_true", help="write no warmup requests")
    p.add_argument("--no-verify", action="store_true",
                   help="skip checking the export against model.generate")
    return p.parse_args(argv)


def main(argv=None):
    """Runs the export; returns the process exit code."""
    args = parse_args(argv)
    import keras

    import kgan  # noqa: F401 - registers kgan's classes for load_model
    from kgan import export

    model = keras.saving.load_model(args.model, compile=False)
    warmup = False if args.no_warmup else [int(b) for b in args.warmup_batch_sizes.split(",")]
    path = export.export_generator(model, args.base_dir, model_name=args.model_name,
                                   version=args.version, warmup=warmup,
                                   max_batch=args.max_batch)
    if not args.no_verify:
        expected = model.generate(8, seed=0)
        served = export.generate_from_export(path, 8, seed=0)
        if not np.allclose(expected, served, rtol=0, atol=1e-5):
            print(f"error: {path} does not reproduce model.generate (max abs diff "
                  f"{np.abs(expected - served).max():.3g})", file=sys.stderr)
            return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

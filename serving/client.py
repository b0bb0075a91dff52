"""Ask a TensorFlow Serving generator for images and save them as a PNG grid.

Thin command line over :mod:`kgan.serving_client`, over REST or gRPC.

Examples:
    python serving/client.py --rest http://localhost:8501 --model mnist_dcgan \\
        --num 64 --seed 0 --out grid.png --scale 2
    python serving/client.py --grpc localhost:8500 --model mnist_cgan \\
        --num 10 --labels 0,1,2,3,4,5,6,7,8,9 --out digits.png
    python serving/client.py --rest http://localhost:8501 --model mnist_dcgan --metadata
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--rest", help="REST root URL, e.g. http://localhost:8501")
    where.add_argument("--grpc", help="gRPC target host:port, e.g. localhost:8500")
    p.add_argument("--model", default="generator", help="served model name")
    p.add_argument("--version", type=int, default=None, help="model version (default: latest)")
    p.add_argument("--num", type=int, default=16, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="first seed; image i uses seed+i")
    p.add_argument("--labels", default=None,
                   help="class ids for conditional models: one int for all images or a "
                        "comma-separated list of --num ints")
    p.add_argument("--out", default="served_grid.png", help="PNG grid to write")
    p.add_argument("--cols", type=int, default=None, help="grid columns")
    p.add_argument("--scale", type=int, default=1, help="integer upscaling of the grid")
    p.add_argument("--png-dir", default=None,
                   help="also write one PNG per image, encoded by the server")
    p.add_argument("--metadata", action="store_true", help="print the signatures and exit")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    return p.parse_args(argv)


def main(argv=None):
    """Runs the client; returns the process exit code."""
    args = parse_args(argv)
    from kgan import serving_client

    client = serving_client.make_client(rest=args.rest, grpc=args.grpc, model_name=args.model,
                                        version=args.version, timeout=args.timeout)
    try:
        if args.metadata:
            print(json.dumps(client.metadata(), indent=2))
            return 0
        labels = None
        if args.labels is not None:
            labels = [int(v) for v in args.labels.split(",")]
            labels = labels[0] if len(labels) == 1 else labels
        seeds = range(args.seed, args.seed + args.num)
        path = client.save_grid(args.out, seeds=seeds, labels=labels, cols=args.cols,
                                scale=args.scale)
        print(path)
        if args.png_dir:
            os.makedirs(args.png_dir, exist_ok=True)
            for seed, png in zip(seeds, client.generate_png(seeds=seeds, labels=labels),
                                 strict=True):
                with open(os.path.join(args.png_dir, f"seed{seed:06d}.png"), "wb") as f:
                    f.write(png)
            print(args.png_dir)
    except serving_client.ServingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Score images with a trained f-AnoGAN anomaly model (.keras or export) and write a CSV.

    python train/score.py runs/anomaly/fanogan.keras ../shared/data/mnist/t10k-images-idx3-ubyte.gz --out scores.csv
    python train/score.py serving/models/digits_anomaly pngs/ --out scores.csv

All options: ``python train/score.py --help`` (answers without TensorFlow).
The work is done by ``kgan.anomaly.score_main``.
"""

import os
import sys

from _cli import load_cli


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = load_cli().build_score_parser().parse_args(argv)  # exits on --help / bad flags
    for path, what in ((args.model, "model"), (args.images, "images")):
        if not os.path.exists(path):
            print(f"score.py: error: {what} {path!r} not found", file=sys.stderr)
            return 2
    from kgan.anomaly import score_main  # imports TensorFlow

    return score_main(argv)


if __name__ == "__main__":
    sys.exit(main())

"""Write N samples (PNG grid and .npy) from a trained .keras model or an export.

    python train/sample.py runs/dcgan/model.keras -n 64 --seed 0 --out runs/dcgan/more
    python train/sample.py runs/cgan/export/generator -n 10 --labels 7 --out sevens
    python train/sample.py runs/t2i/model.keras --text "a thick seven" --text "a thin 1" -n 8 --out two

All options: ``python train/sample.py --help`` (answers without TensorFlow).
The work is done by ``kgan.sampling``.
"""

import sys

from _cli import load_cli


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    load_cli().parse_sample_args(argv)  # exits here on --help, bad flags, a missing model
    from kgan.sampling import main as sample_main  # imports TensorFlow

    return sample_main(argv)


if __name__ == "__main__":
    sys.exit(main())

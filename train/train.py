"""Train any kgan variant on any supported dataset.

    python train/train.py --variant dcgan --dataset digits --epochs 40 --out runs/dcgan
    python train/train.py --dry-run            # print the resolved config
    python train/train.py --config runs/dcgan/config.json --out runs/again   # rerun a run

All options: ``python train/train.py --help``. The work is done by
``kgan.training.run``; this file only hands it the command line. The flags are
parsed before TensorFlow is imported, so ``--help`` and a bad flag answer at once.
"""

import json
import sys

from _cli import load_cli


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    cli = load_cli()
    config, options = cli.parse_args(argv)  # exits here on --help and on bad flags
    if options.dry_run:
        print(json.dumps(cli.resolve(config), indent=2))
        return 0
    from kgan.training import main as train_main  # imports TensorFlow

    return train_main(argv)


if __name__ == "__main__":
    sys.exit(main())

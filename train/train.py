"""Train any kgan variant on any supported dataset.

    python train/train.py --variant dcgan --dataset digits --epochs 40 --out runs/dcgan
    python train/train.py --dry-run            # print the resolved config

All options: ``python train/train.py --help``. The work is done by
``kgan.training.run``; this file only hands it the command line.
"""

import sys

from kgan.training import main

if __name__ == "__main__":
    sys.exit(main())

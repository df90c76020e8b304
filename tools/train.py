"""Train a model of mmdet, mmseg, mmaction2 or mmpretrain (the codebase follows from the config's default_scope).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]] [--amp] [--cfg-options k=v ...]
                                 [--launcher {none,pytorch,slurm,mpi}] [--seed N] [--deterministic]
                                 [--auto-scale-lr]
"""
import sys

import dr2net_mm  # noqa: F401  (registers our modules and applies the upstream compatibility fixes)
from dr2net_mm.launch.config import ConfigError
from dr2net_mm.launch.train import main

if __name__ == '__main__':
    try:
        main()
    except ConfigError as error:
        sys.exit(f'error: {error}')

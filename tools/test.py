"""Test a checkpoint of an mmdet, mmseg, mmaction2 or mmpretrain model (the codebase follows from the config).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE|DIR] [--show-dir DIR]
                                           [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]
"""
import sys

import dr2net_mm  # noqa: F401  (registers our modules and applies the upstream compatibility fixes)
from dr2net_mm.launch.config import ConfigError
from dr2net_mm.launch.test import main

if __name__ == '__main__':
    try:
        main()
    except ConfigError as error:
        sys.exit(f'error: {error}')

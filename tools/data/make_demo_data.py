"""Write the demo data (COCO and ADE20K-layout shapes, raw-frame motion clips, untrimmed videos), fixed seeds.

    python tools/data/make_demo_data.py [--root data/demo] [--scale 1.0] [--force]

A dataset that is already complete for its version, scale and seed is left as it is, so that the
pretraining checkpoints made from it stay valid (``tools/demo.py`` retrains what is older than its data).
"""
import argparse
import sys
from pathlib import Path

from dr2net_mm.demo import demo_data_is_current, make_demo_data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--root', default='data/demo', help='output folder (the configs read data/demo)')
    parser.add_argument('--scale', type=float, default=1.0, help='fraction of the full number of samples')
    parser.add_argument('--force', action='store_true', help='write the data even if it is current')
    args = parser.parse_args()
    if not 0 < args.scale <= 1:
        parser.error(f'--scale must be in (0, 1], got {args.scale}')
    if not args.force and demo_data_is_current(args.root, args.scale):
        print(f'{args.root} is current (scale {args.scale}): nothing to do')
        return 0
    root = make_demo_data(Path(args.root), scale=args.scale, force=args.force)
    print(f'demo data written to {root} (scale {args.scale})')
    return 0


if __name__ == '__main__':
    sys.exit(main())

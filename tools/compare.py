"""Compare finished runs of any of the three codebases in one markdown table, with plots.

    python tools/compare.py WORK_DIR [WORK_DIR ...] [--plots work_dirs/compare]
"""
import argparse
import sys

import dr2net_mm  # noqa: F401
from dr2net_mm.benchmark.compare import markdown, plot, read_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('work_dirs', nargs='+')
    parser.add_argument('--plots', default='work_dirs/compare', help='folder for the PNG plots')
    args = parser.parse_args()
    try:
        runs = [read_run(w) for w in args.work_dirs]
    except FileNotFoundError as error:
        sys.exit(f'error: {error}')
    print(markdown(runs))
    for path in plot(runs, args.plots):
        print(f'plot written: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

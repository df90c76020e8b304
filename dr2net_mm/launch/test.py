"""``tools/test.py CONFIG CHECKPOINT``: evaluate a checkpoint with any mmdet, mmseg, mmaction2 or mmpretrain
config."""
import argparse
import os.path as osp
from typing import List, Optional

from mmengine.config import Config

from .args import add_common_args
from .checkpoints import checkpoint_problem
from .codebases import check_out_path, codebase_of
from .config import ConfigError, disable_amp_without_cuda, load_config, merge_options, set_launcher, set_work_dir
from .runner import build_runner


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test a checkpoint of an mmdet, mmseg, mmaction2 or mmpretrain model; the codebase follows from '
                    'the config.')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_common_args(parser)
    parser.add_argument('--out', help='dump predictions: a .pkl file (mmdet, mmaction2, mmpretrain) or a folder '
                                      '(mmseg)')
    parser.add_argument('--show-dir', help='save painted predictions under this folder of the work dir')
    return parser.parse_args(argv)


def build_test_config(args: argparse.Namespace) -> Config:
    if not osp.isfile(args.checkpoint):
        raise ConfigError(f'checkpoint {args.checkpoint!r} does not exist')
    problem = checkpoint_problem(args.checkpoint)
    if problem:
        raise ConfigError(f'checkpoint {args.checkpoint!r} is not a readable checkpoint ({problem})')
    cfg = load_config(args.config)
    codebase = codebase_of(cfg)
    merge_options(cfg, args.cfg_options)
    set_launcher(cfg, args.launcher)
    set_work_dir(cfg, args.config, args.work_dir)
    disable_amp_without_cuda(cfg)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.out:
        check_out_path(codebase, args.out)
        codebase.set_test_out(cfg, args.out)
    if args.show_dir:
        codebase.set_show_dir(cfg, args.show_dir)
    return cfg


def main(argv: Optional[List[str]] = None) -> dict:
    cfg = build_test_config(parse_args(argv))
    return build_runner(cfg).test()

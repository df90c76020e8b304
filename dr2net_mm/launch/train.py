"""``tools/train.py CONFIG``: train with any mmdet, mmseg, mmaction2 or mmpretrain config."""
import argparse
from typing import List, Optional

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from .args import add_common_args
from .codebases import codebase_of
from .config import (
    add_default_checks,
    check_load_from,
    disable_amp_without_cuda,
    enable_amp,
    enable_auto_scale_lr,
    load_config,
    merge_options,
    set_launcher,
    set_randomness,
    set_resume,
    set_work_dir,
    use_scientific_log_processor,
)
from .runner import build_runner
from .scale_out import check_scale_out


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train an mmdet, mmseg, mmaction2 or mmpretrain model; the codebase follows from the config.')
    parser.add_argument('config', help='config file path')
    add_common_args(parser)
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='auto|PATH',
                        help='resume from PATH, or (alone or "auto") from the latest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (CUDA)')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the LR with the total batch size')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--deterministic', action='store_true', help='deterministic CUDA kernels')
    return parser.parse_args(argv)


def build_train_config(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config)
    codebase_of(cfg)
    merge_options(cfg, args.cfg_options)
    check_scale_out(cfg)
    set_launcher(cfg, args.launcher)
    set_work_dir(cfg, args.config, args.work_dir)
    if args.amp:
        enable_amp(cfg)
    elif disable_amp_without_cuda(cfg):
        print_log('the config asks for AMP but no CUDA device is available: training in fp32', 'current')
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    set_resume(cfg, args.resume)
    check_load_from(cfg)
    add_default_checks(cfg)
    use_scientific_log_processor(cfg)
    set_randomness(cfg, args.seed, args.deterministic)
    return cfg


def main(argv: Optional[List[str]] = None) -> Runner:
    cfg = build_train_config(parse_args(argv))
    runner = build_runner(cfg)
    runner.train()
    return runner

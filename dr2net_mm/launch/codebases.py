"""What differs between the four codebases, keyed by a config's ``default_scope``.

The runner itself is the same (mmengine); only how ``tools/test.py --out`` and ``--show-dir`` are
wired differs, following each codebase's own ``tools/test.py``.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict

from mmengine.config import Config


def _mmdet_out(cfg: Config, out: str) -> None:
    cfg.test_evaluator = [cfg.test_evaluator] if isinstance(cfg.test_evaluator, dict) else list(cfg.test_evaluator)
    cfg.test_evaluator.append(dict(type='DumpDetResults', out_file_path=out))


def _mmseg_out(cfg: Config, out: str) -> None:
    cfg.test_evaluator['output_dir'] = out
    cfg.test_evaluator['keep_results'] = True


def _mmaction_out(cfg: Config, out: str) -> None:
    cfg.test_evaluator = [cfg.test_evaluator] if isinstance(cfg.test_evaluator, dict) else list(cfg.test_evaluator)
    cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=out))


def _mmpretrain_out(cfg: Config, out: str) -> None:
    # mmpretrain's tools/test.py dumps predictions with a DumpResults metric (registered in mmpretrain)
    cfg.test_evaluator = [cfg.test_evaluator] if isinstance(cfg.test_evaluator, dict) else list(cfg.test_evaluator)
    cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=out))


def _visualization_hook(cfg: Config, hook_type: str) -> dict:
    """The config's visualization hook, added with the codebase's own type when the config has none."""
    hooks = cfg.setdefault('default_hooks', {})
    if 'visualization' not in hooks:
        hooks['visualization'] = dict(type=hook_type)
    return hooks['visualization']


def _mmdet_show(cfg: Config, show_dir: str) -> None:
    hook = _visualization_hook(cfg, 'DetVisualizationHook')
    hook['draw'] = True
    hook['test_out_dir'] = show_dir


def _mmseg_show(cfg: Config, show_dir: str) -> None:
    hook = _visualization_hook(cfg, 'SegVisualizationHook')
    hook['draw'] = True
    cfg.visualizer['save_dir'] = show_dir


def _mmaction_show(cfg: Config, show_dir: str) -> None:
    hook = _visualization_hook(cfg, 'VisualizationHook')
    hook['enable'] = True
    hook['out_dir'] = show_dir


def _mmpretrain_show(cfg: Config, show_dir: str) -> None:
    hook = _visualization_hook(cfg, 'VisualizationHook')
    hook['enable'] = True
    hook['out_dir'] = show_dir


@dataclass(frozen=True)
class Codebase:
    """One OpenMMLab codebase as seen by the tools."""

    scope: str
    set_test_out: Callable[[Config, str], None]
    set_show_dir: Callable[[Config, str], None]
    out_suffixes: tuple


CODEBASES: Dict[str, Codebase] = {
    'mmdet': Codebase('mmdet', _mmdet_out, _mmdet_show, ('.pkl', '.pickle')),
    'mmseg': Codebase('mmseg', _mmseg_out, _mmseg_show, ()),
    'mmaction': Codebase('mmaction', _mmaction_out, _mmaction_show, ('.pkl', '.pickle')),
    'mmpretrain': Codebase('mmpretrain', _mmpretrain_out, _mmpretrain_show, ('.pkl', '.pickle')),
}


def codebase_of(cfg: Config) -> Codebase:
    """The codebase a config belongs to, from its ``default_scope``."""
    scope = cfg.get('default_scope')
    if scope not in CODEBASES:
        raise ValueError(
            f'config {cfg.filename!r} has default_scope={scope!r}; dr2net-mm tools run configs of '
            f'{sorted(CODEBASES)} (inherit an official config, e.g. _base_ = "mmdet::...", to get one)')
    return CODEBASES[scope]


def check_out_path(codebase: Codebase, out: str) -> None:
    """Each codebase dumps to a different kind of path; say which when it does not fit."""
    if codebase.out_suffixes and not out.endswith(codebase.out_suffixes):
        raise ValueError(f'--out for {codebase.scope} must be a pickle file ({"/".join(codebase.out_suffixes)}), '
                         f'got {out!r}')
    if not codebase.out_suffixes and osp.splitext(out)[1]:
        raise ValueError(f'--out for {codebase.scope} is a folder for the predicted label maps, got {out!r}')

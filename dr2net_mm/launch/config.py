"""Loading a config and applying the command-line flags that every OpenMMLab tool knows."""
import difflib
import logging
import os
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from .checkpoints import checkpoint_problem, run_checkpoints


class ConfigError(ValueError):
    """A config path or option that cannot be used; the message says what to do."""


def load_config(path: str) -> Config:
    if not osp.isfile(path):
        hint = ''
        folder = osp.dirname(path) or '.'
        if osp.isdir(folder):
            close = difflib.get_close_matches(osp.basename(path), os.listdir(folder), n=3)
            if close:
                hint = ' Did you mean: ' + ', '.join(osp.join(folder, c) for c in close) + '?'
        raise ConfigError(f'config file {path!r} does not exist.{hint}')
    return Config.fromfile(path)


def _children(node: Any) -> List[str]:
    if isinstance(node, dict):
        return [str(k) for k in node.keys()]
    if isinstance(node, (list, tuple)):
        return [str(i) for i in range(len(node))]
    return []


def _lookup(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node[part]
    if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    raise KeyError(part)


def check_options_exist(cfg: Config, options: Dict[str, Any]) -> None:
    """Every ``--cfg-options`` key must name an existing entry: a typo must not add a new one silently."""
    for key in options:
        node: Any = cfg._cfg_dict
        walked = []
        for part in key.split('.'):
            try:
                node = _lookup(node, part)
            except KeyError:
                where = '.'.join(walked) or 'the top level'
                close = difflib.get_close_matches(part, _children(node), n=3)
                hint = f' Close names: {", ".join(close)}.' if close else ''
                raise ConfigError(
                    f'--cfg-options {key}: the config has no "{part}" under {where}.{hint} '
                    f'To add a new entry, write it in a config that inherits this one.') from None
            walked.append(part)


def merge_options(cfg: Config, options: Optional[Dict[str, Any]]) -> None:
    if options:
        check_options_exist(cfg, options)
        cfg.merge_from_dict(options)


def set_work_dir(cfg: Config, config_path: str, work_dir: Optional[str]) -> None:
    """``--work-dir`` > ``work_dir`` in the config > ``work_dirs/<config name>`` (OpenMMLab's rule)."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def enable_amp(cfg: Config) -> None:
    import torch
    if not torch.cuda.is_available():
        raise ConfigError('--amp needs a CUDA device (mmengine\'s AmpOptimWrapper); none is available here')
    if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
        return
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def disable_amp_without_cuda(cfg: Config) -> bool:
    """Official video configs ask for AMP; on a machine without CUDA fall back to fp32 and say so."""
    import torch
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper' and not torch.cuda.is_available():
        cfg.optim_wrapper.type = 'OptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
        return True
    return False


def enable_auto_scale_lr(cfg: Config) -> None:
    auto = cfg.get('auto_scale_lr')
    if not auto or 'base_batch_size' not in auto:
        raise ConfigError('--auto-scale-lr needs `auto_scale_lr = dict(base_batch_size=N)` in the config')
    cfg.auto_scale_lr.enable = True


def set_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` alone or ``auto``: continue from the latest checkpoint of the work dir if it has one,
    otherwise start as the config says (``load_from`` loaded as weights only: a fresh finetuning).
    A path: resume from that checkpoint.

    (mmengine's own auto-resume sets ``load_from = None``, so a fresh work dir silently trained from
    scratch instead of from the config's pretrained checkpoint.)
    """
    if resume is None:
        return
    if resume == 'auto':
        latest = _newest_readable_checkpoint(cfg.work_dir)
        cfg.resume = latest is not None
        if latest is not None:
            cfg.load_from = latest
        return
    if not osp.isfile(resume):
        raise ConfigError(f'--resume {resume!r}: no such checkpoint file')
    problem = checkpoint_problem(resume)
    if problem:
        raise ConfigError(f'--resume {resume!r} is not a readable checkpoint ({problem})')
    cfg.resume = True
    cfg.load_from = resume


def _newest_readable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume auto`` continues from: the work dir's latest, or where that one is damaged
    (a job killed while saving), the newest readable one before it, with a warning naming both."""
    from mmengine.runner import find_latest_checkpoint
    latest = find_latest_checkpoint(work_dir) if osp.isdir(work_dir) else None
    if latest is None:
        return None
    problem = checkpoint_problem(latest)
    if not problem:
        return latest
    for candidate in run_checkpoints(work_dir):
        if osp.abspath(candidate) != osp.abspath(latest) and not checkpoint_problem(candidate):
            print_log(f'--resume auto: the latest checkpoint {latest} is damaged ({problem}); resuming from '
                      f'{candidate}, the newest readable one', logger='current', level=logging.WARNING)
            return candidate
    raise ConfigError(f'--resume auto: the latest checkpoint {latest} is damaged ({problem}) and no other '
                      f'checkpoint in {work_dir} is readable; remove them to train from the start')


def check_load_from(cfg: Config) -> None:
    """A local ``load_from`` that is not a checkpoint is a one-line error (not a traceback from torch)."""
    path = cfg.get('load_from')
    if path and osp.isfile(path):
        problem = checkpoint_problem(path)
        if problem:
            raise ConfigError(f'load_from {path!r} is not a readable checkpoint ({problem})')


def add_default_checks(cfg: Config) -> None:
    """Every run logs which pretrained weights its backbone got (and stops when they do not fit), stops
    at a non-finite loss before saving non-finite weights, and saves its random generators' states for
    an exact resume, unless the config already configures those hooks itself."""
    hooks = list(cfg.get('custom_hooks') or [])
    for name in ('PretrainedLoadCheckHook', 'NonFiniteCheckHook', 'RngStateHook'):
        if not any(str(h.get('type', '')).endswith(name) for h in hooks):
            hooks.append(dict(type=f'dr2net_mm.{name}'))
    cfg.custom_hooks = hooks


def use_scientific_log_processor(cfg: Config) -> None:
    """Print tiny logged values (the reconstruction error) as 1.2e-06 instead of 0.0000, unless the
    config chose its own log processor."""
    processor = ConfigDict(cfg.get('log_processor') or {})
    if processor.get('type', 'LogProcessor') == 'LogProcessor':
        processor.type = 'dr2net_mm.LogProcessor'
    cfg.log_processor = processor


def set_randomness(cfg: Config, seed: Optional[int], deterministic: bool) -> None:
    if seed is None and not deterministic:
        return
    randomness = ConfigDict(cfg.get('randomness') or {})
    if seed is not None:
        randomness.seed = seed
    if deterministic:
        randomness.deterministic = True
    cfg.randomness = randomness


def set_launcher(cfg: Config, launcher: str) -> None:
    cfg.launcher = launcher
    if 'LOCAL_RANK' not in os.environ and launcher == 'none':
        os.environ.setdefault('LOCAL_RANK', '0')

"""Build the mmengine runner the way each codebase's own tools do."""
import os.path as osp
import time

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner


def wait_for_fresh_timestamp(cfg: Config, poll_s: float = 0.05) -> None:
    """Start a run in a second that no earlier run of this process or work dir has used.

    mmengine names a run's log folder ``work_dir/<YYYYmmdd_HHMMSS>`` and its logger
    ``<config name>_<timestamp>``. A second run started within the same second (a resume right
    after an interruption, back-to-back runs in one notebook or test) would reopen the first
    run's folder and get back the first run's logger, whose file handler ``LoggerHook`` has
    already closed: everything it logs would be lost without a word.
    """
    stem = osp.splitext(osp.basename(cfg.filename))[0] if cfg.filename else None
    name = cfg.get('experiment_name') or stem

    def taken(stamp: str) -> bool:
        in_work_dir = cfg.get('work_dir') and osp.exists(osp.join(cfg.work_dir, stamp))
        logger_name = f'{name}_{stamp}' if name else stamp
        return bool(in_work_dir) or MMLogger.check_instance_created(logger_name)

    while taken(time.strftime('%Y%m%d_%H%M%S', time.localtime())):
        time.sleep(poll_s)


def build_runner(cfg: Config) -> Runner:
    wait_for_fresh_timestamp(cfg)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)

"""Peak training memory and time per step of each study variant: one benchmark run per task, whole
model, fp32.

Every variant of a task trains the same model on the same batch shape, so one run of
``tools/benchmark.py``'s measurement covers them all, in one process: its times compare methods
where the study's own runs cannot (they share the machine with whatever else runs). A Dr²Net
variant costs, over a training, the largest peak and the slowest step along its coefficients' path;
all the moving policies pass through the points measured here, the fixed rewiring only through (0, 1).
"""
import hashlib
import json
import os
import time
import warnings
from pathlib import Path
from typing import Dict, List, Optional

from mmengine.config import Config

from ..benchmark.run import benchmark_config
from ..benchmark.shapes import config_input_shape
from ..benchmark.variants import dtl_settings

PATH_POINTS = ((1.0, 0.0), (0.95, 0.05), (0.5, 0.5), (0.0, 1.0))


def measure_task(dr2net_config: Path, dtl_config: Path) -> Dict:
    """Per study variant: peak MiB of live tensors in one training step (``peak_mib``) and the median
    seconds of ten steps (``seconds_per_step``); the batch shape (``input_shape``); and the share of
    the machine's CPU time other processes took meanwhile (``other_work``; None where unknown)."""
    cfg = Config.fromfile(str(dr2net_config))
    shape = config_input_shape(cfg)
    dtl = dtl_settings(Config.fromfile(str(dtl_config)).model.backbone)
    with OtherWork() as other:
        rows = benchmark_config(cfg, ['autograd', 'with_cp', 'dr2net', 'dtl'], shape, PATH_POINTS, iters=10,
                                warmup=2, whole_model=True, dtl=dict(dtl, dwconv_kernel=None))
        rows += benchmark_config(cfg, ['dtl'], shape, (), iters=10, warmup=2, whole_model=True,
                                 dtl=dict(dtl, dwconv_kernel=3))
    if other.share is not None and other.share > 0.25:
        warnings.warn(f'other processes took {other.share:.0%} of the CPU while {dr2net_config.name} was timed: '
                      'its time figures are slow and uneven. For figures that compare, stop the other work and '
                      "measure again (delete the cost.json beside the task's study runs)", stacklevel=2)
    failed = [r for r in rows if r.get('status') != 'ok']
    if failed:
        raise RuntimeError(f'cost of {dr2net_config}: {failed[0]["method"]} {failed[0].get("status")}')
    return dict(peak_mib=per_variant(rows, 'peak_mib'), seconds_per_step=per_variant(rows, 'seconds'),
                input_shape=list(shape), other_work=other.share)


class OtherWork:
    """The share of the machine's CPU time that processes other than this one used inside the block
    (Linux: /proc/stat; ``share`` stays None elsewhere). Timings only compare on an otherwise idle machine."""

    share: Optional[float] = None

    def __enter__(self) -> 'OtherWork':
        self._start = (_machine_cpu_seconds(), time.process_time(), time.perf_counter())
        return self

    def __exit__(self, *exc) -> None:
        machine, own, wall = _machine_cpu_seconds(), time.process_time(), time.perf_counter()
        if machine is None or self._start[0] is None or wall <= self._start[2]:
            return
        others = (machine - self._start[0]) - (own - self._start[1])
        self.share = min(1.0, max(0.0, others / ((wall - self._start[2]) * (os.cpu_count() or 1))))


def _machine_cpu_seconds() -> Optional[float]:
    """CPU seconds all processes used since boot (busy time of /proc/stat's first line), or None."""
    try:
        ticks = [int(v) for v in Path('/proc/stat').read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return None
    idle = ticks[3] + ticks[4]        # idle and iowait
    return (sum(ticks) - idle) / os.sysconf('SC_CLK_TCK')


def per_variant(rows: List[Dict], key: str) -> Dict[str, float]:
    """The benchmark rows' ``key`` for each study variant (rows: autograd, with_cp, Dr²Net at
    PATH_POINTS, DTL, DTL+)."""
    autograd, with_cp, dtl, dtl_plus = rows[0][key], rows[1][key], rows[-2][key], rows[-1][key]
    dr2 = {(r['alpha'], r['beta']): r[key] for r in rows if r['method'] == 'dr2net'}
    along_path = max(dr2.values())
    return {'scratch': autograd, 'finetune': autograd, 'with_cp': with_cp,
            'dr2net': along_path, 'dr2net-linear': along_path, 'dr2net-exp': along_path,
            'dr2net-step': along_path, 'dr2net-fixed': dr2[(0.0, 1.0)], 'dtl': dtl, 'dtl+': dtl_plus}


def fingerprint(*configs: Path) -> str:
    """What a measurement depends on: the configs as resolved (their bases included) and the code of
    the package that runs in it (the methods, and how the benchmark counts)."""
    digest = hashlib.sha256()
    for config in configs:
        digest.update(json.dumps(Config.fromfile(str(config)).to_dict(), sort_keys=True, default=repr).encode())
    package = Path(__file__).resolve().parents[1]
    for source in measured_sources(package):
        digest.update(source.relative_to(package).as_posix().encode() + b'\0' + source.read_bytes())
    return digest.hexdigest()


def measured_sources(package: Path) -> List[Path]:
    """The package's code except the study's own bookkeeping (records, statistics, the report): how
    the report is written does not change what is measured, so it keeps the cached figures."""
    study = Path(__file__).resolve().parent
    return [source for source in sorted(package.rglob('*.py'))
            if source.parent != study or source.name == Path(__file__).name]


def task_cost(cache: Path, dr2net_config: Path, dtl_config: Path) -> Dict:
    """Measured once per task and kept in ``cache`` until the configs or the package's code change."""
    key = fingerprint(dr2net_config, dtl_config)
    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.pop('fingerprint', None) == key:
            return cached
    result = measure_task(dr2net_config, dtl_config)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(dict(result, fingerprint=key), indent=2))
    return result

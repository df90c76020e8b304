"""Peak training memory of each study variant: one benchmark run per task, whole model, fp32.

Every variant of a task trains the same model on the same batch shape, so one run of
``tools/benchmark.py``'s measurement covers them all. A Dr²Net variant needs, over a training, the
largest peak along its coefficients' path; all the moving policies pass through the points measured
here, the fixed rewiring only through (0, 1).
"""
import hashlib
import json
from pathlib import Path
from typing import Dict

from mmengine.config import Config

from ..benchmark.run import benchmark_config
from ..benchmark.shapes import config_input_shape
from ..benchmark.variants import dtl_settings

PATH_POINTS = ((1.0, 0.0), (0.95, 0.05), (0.5, 0.5), (0.0, 1.0))


def measure_task(dr2net_config: Path, dtl_config: Path) -> Dict[str, float]:
    """Peak MiB of live tensors in one training step, per study variant."""
    cfg = Config.fromfile(str(dr2net_config))
    shape = config_input_shape(cfg)
    dtl = dtl_settings(Config.fromfile(str(dtl_config)).model.backbone)
    rows = benchmark_config(cfg, ['autograd', 'with_cp', 'dr2net', 'dtl'], shape, PATH_POINTS, iters=1, warmup=0,
                            whole_model=True, dtl=dict(dtl, dwconv_kernel=None))
    rows += benchmark_config(cfg, ['dtl'], shape, (), iters=1, warmup=0, whole_model=True,
                             dtl=dict(dtl, dwconv_kernel=3))
    failed = [r for r in rows if r.get('status') != 'ok']
    if failed:
        raise RuntimeError(f'memory of {dr2net_config}: {failed[0]["method"]} {failed[0].get("status")}')
    peaks = {'autograd': rows[0]['peak_mib'], 'with_cp': rows[1]['peak_mib']}
    dr2 = {(r['alpha'], r['beta']): r['peak_mib'] for r in rows if r['method'] == 'dr2net'}
    path_peak = max(dr2.values())
    out = {'scratch': peaks['autograd'], 'finetune': peaks['autograd'], 'with_cp': peaks['with_cp'],
           'dr2net': path_peak, 'dr2net-linear': path_peak, 'dr2net-exp': path_peak, 'dr2net-step': path_peak,
           'dr2net-fixed': dr2[(0.0, 1.0)], 'dtl': rows[-2]['peak_mib'], 'dtl+': rows[-1]['peak_mib']}
    out['input_shape'] = list(shape)
    return out


def fingerprint(*configs: Path) -> str:
    """What a measurement depends on: the configs as resolved (their bases included) and the code of
    the package (the methods, and how the benchmark counts)."""
    digest = hashlib.sha256()
    for config in configs:
        digest.update(json.dumps(Config.fromfile(str(config)).to_dict(), sort_keys=True, default=repr).encode())
    package = Path(__file__).resolve().parents[1]
    for source in sorted(package.rglob('*.py')):
        digest.update(source.relative_to(package).as_posix().encode() + b'\0' + source.read_bytes())
    return digest.hexdigest()


def task_memory(cache: Path, dr2net_config: Path, dtl_config: Path) -> Dict[str, float]:
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

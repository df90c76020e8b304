"""Which distributed setups a Dr²Net or DTL config may use, checked before anything is built.

Measured with 2 gloo processes (``tests/test_scale_out.py``):

- DDP (``MMDistributedDataParallel``): the single-process average, also with ``static_graph=True``
  and with parameters that get no gradient under ``static_graph=True``. With
  ``find_unused_parameters=True`` torch stops at Dr²Net's first backward ("Expected to mark a variable
  ready only once"): Dr²Net accumulates parameter gradients in a backward of its own, out of sight of
  the graph DDP searches for unused parameters, so DDP marks them ready twice.
- FSDP (``MMFullyShardedDataParallel``, ``FSDPStrategy``): DTL's gradients equal the single-process
  average. Dr²Net's are wrong (relative error 1.0: its units compute with FSDP's views of the flat
  parameter while its backward differentiates the registered parameters) or, with blocks wrapped on
  their own, it crashes. A model wrapped in FSDP in Python, past this check, stops at its first
  forward (``methods/dr2net.py``).
- DeepSpeed is not installed here: untested, so refused.
"""
from typing import Any, Set

from mmengine.config import Config

from ..benchmark.synthetic import find_key
from .config import ConfigError

METHODS = ('Dr2Net', 'DTL')


def methods_in(node: Any) -> Set[str]:
    """The methods (``METHODS``) whose type appears anywhere in a model config."""
    kinds = (kind.split('.')[-1] for kind in find_key(node, 'type') if isinstance(kind, str))
    return {kind for kind in kinds if kind in METHODS}


def _type_name(node: Any) -> str:
    kind = (node or {}).get('type', '')
    return kind if isinstance(kind, str) else getattr(kind, '__name__', str(kind))


def check_scale_out(cfg: Config) -> None:
    """Refuse, with what to use instead, a distributed setup the config's method does not support."""
    methods = methods_in(cfg.get('model'))
    if not methods:
        return
    wrapper = cfg.get('model_wrapper_cfg') or {}
    strategy = cfg.get('strategy') or {}
    strategy_wrapper = strategy.get('model_wrapper') or {}
    names = ' and '.join(sorted(methods))
    if 'Dr2Net' in methods and any(d.get('find_unused_parameters') for d in (cfg, wrapper, strategy_wrapper)):
        raise ConfigError(
            "Dr2Net does not run under DDP with find_unused_parameters=True: its backward accumulates parameter "
            "gradients in a backward of its own, which DDP's search for unused parameters cannot see (torch "
            "stops with 'Expected to mark a variable ready only once'). Set find_unused_parameters=False; if "
            "some parameters of the model get no gradient, use model_wrapper_cfg=dict(type="
            "'MMDistributedDataParallel', static_graph=True) instead (tested with Dr2Net)")
    fsdp = 'FullyShardedDataParallel' in _type_name(wrapper) + _type_name(strategy_wrapper) \
        or 'FSDP' in _type_name(strategy)
    if 'Dr2Net' in methods and fsdp:
        raise ConfigError(
            'Dr2Net does not run under FSDP: its backward differentiates the registered parameters, while under '
            'FSDP the units compute with views of the flat parameter (gradients come out wrong). Use DDP '
            '(the default launcher, MMDistributedDataParallel); Dr2Net already removes most activations, '
            'and DTL (frozen backbone) does run under FSDP')
    if 'DeepSpeed' in _type_name(strategy) or 'DeepSpeed' in _type_name(cfg.get('optim_wrapper')):
        raise ConfigError(f'{names} with DeepSpeed is untested (DeepSpeed is not installed where this project is '
                          'tested); use DDP (the default launcher)' + ('' if 'Dr2Net' in methods else ' or FSDP'))

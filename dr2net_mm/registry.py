"""Registries of dr2net-mm, children of mmengine's roots.

Configs of any codebase (mmdet, mmseg, mmaction2) name our modules as ``type='dr2net_mm.X'``;
mmengine then imports the ``locations`` below on first use, so no ``custom_imports`` is needed.
Inner modules built by our wrappers (``type='SwinTransformer'``) resolve in the config's own
``default_scope``, which is why the wrappers must not set ``_scope_``.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='dr2net_mm', locations=['dr2net_mm.models', 'dr2net_mm.tad'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='dr2net_mm', locations=['dr2net_mm.engine.hooks'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      scope='dr2net_mm', locations=['dr2net_mm.engine.optimizers'])
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS, scope='dr2net_mm',
                          locations=['dr2net_mm.engine.log_processor'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='dr2net_mm', locations=['dr2net_mm.tad'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='dr2net_mm', locations=['dr2net_mm.tad'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='dr2net_mm', locations=['dr2net_mm.tad'])

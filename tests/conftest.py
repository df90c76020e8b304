"""Shared fixtures: a small copy of the demo data and a working directory laid out like the repo."""
import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
import torch

import dr2net_mm  # noqa: F401  (compat fixes, registries)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'configs'


@pytest.fixture(scope='session')
def demo_workspace(tmp_path_factory) -> Path:
    """A folder with ``data/demo`` at a small scale; configs' relative data paths resolve inside it."""
    from dr2net_mm.demo import make_demo_data
    root = tmp_path_factory.mktemp('workspace')
    make_demo_data(root / 'data' / 'demo', scale=0.05)
    return root


@pytest.fixture
def in_workspace(demo_workspace, monkeypatch) -> Path:
    monkeypatch.chdir(demo_workspace)
    return demo_workspace


@contextlib.contextmanager
def logged_messages(logger: Optional[logging.Logger] = None) -> Iterator[List[str]]:
    """The messages ``logger`` (mmengine's current logger by default) logs inside the block."""
    from mmengine.logging import MMLogger
    logger = logger if logger is not None else MMLogger.get_current_instance()
    messages: List[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def as_list(out):
    """A backbone's outputs as a flat list of tensors (MViT's are ``[patch tokens, class token]`` pairs)."""
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in as_list(o)]
    return [out]


def output_differences(reference, model, x, seed: int):
    """Max abs difference per output of two models on ``x``, both run from the same RNG state."""
    torch.manual_seed(seed)
    expected = as_list(reference(x))
    torch.manual_seed(seed)
    return [float((e - g).detach().abs().max()) for e, g in zip(expected, as_list(model(x)), strict=True)]


NO_WORKERS = [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
              for key in ('num_workers=0', 'persistent_workers=False')]

SWIN_BACKBONES = {
    'mmdet': (dict(type='SwinTransformer', embed_dims=16, depths=[2, 2, 4, 2], num_heads=[1, 2, 2, 4],
                   window_size=4, drop_path_rate=0.3, convert_weights=False), (2, 3, 64, 64)),
    'mmseg': (dict(type='SwinTransformer', embed_dims=16, depths=[2, 2, 4, 2], num_heads=[1, 2, 2, 4],
                   window_size=4, drop_path_rate=0.3), (2, 3, 64, 64)),
    'mmaction': (dict(type='SwinTransformer3D', arch=dict(embed_dims=16, depths=[2, 2, 4, 2], num_heads=[1, 2, 2, 4]),
                      window_size=(2, 4, 4), drop_path_rate=0.3, pretrained=None, pretrained2d=False),
                 (1, 3, 4, 64, 64)),
}


def build_swin(scope, **overrides):
    """A small Swin of ``scope``'s codebase (seeded) and an input for it."""
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(scope)
    torch.manual_seed(0)
    cfg, shape = SWIN_BACKBONES[scope]
    return MODELS.build(dict(cfg, **overrides)), torch.randn(*shape, generator=torch.Generator().manual_seed(1))


def small_backbone(name):
    """Small backbones of four families (drop-path drawing), and an input for each. The ViT's input
    is large enough that its attention units have several head pieces in fp32; the ResNet has one
    output (see ``BF16_STREAM_SUMS``)."""
    if name in ('mmdet', 'mmaction'):
        return build_swin(name)
    scope, cfg, shape = {
        'mmseg-vit': ('mmseg', dict(type='VisionTransformer', img_size=(128, 128), embed_dims=64, num_layers=4,
                                    num_heads=4, out_indices=(1, 3), drop_path_rate=0.2), (2, 3, 128, 128)),
        'mmdet-resnet': ('mmdet', dict(type='ResNet', depth=18, out_indices=(3,)), (2, 3, 64, 64)),
    }[name]
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(scope)
    torch.manual_seed(0)
    return MODELS.build(cfg), torch.randn(*shape, generator=torch.Generator().manual_seed(1))


def random_output_loss(model, x):
    """A loss over every output of ``model`` against fixed random weights (drawn once, on ``x``'s
    device). Its output gradient has no structure: a constant one (``weighted_output_loss``) hides
    where a recompute rounds differently under autocast."""
    weights = [torch.randn(o.shape, generator=torch.Generator().manual_seed(5 + i)).to(x.device)
               for i, o in enumerate(as_list(model(x)))]
    return lambda outs: sum((o * w.to(o.dtype)).mean() for o, w in zip(as_list(outs), weights, strict=True)).float()


def weighted_output_loss(outputs):
    """A loss over every output of a backbone, each weighted differently."""
    return sum((o * (i + 1)).mean() for i, o in enumerate(as_list(outputs)))


def dr2net_gradients(model, x, grad_mode: str, alpha: float, beta: float, loss=weighted_output_loss):
    """Input and parameter gradients of a Dr²Net-converted ``model`` with ``grad_mode`` at (alpha, beta)."""
    from dr2net_mm.methods.dr2net import dr2net_methods
    for method in dr2net_methods(model):
        method.grad_mode = grad_mode
    dr2net_mm.set_coefficients(model, alpha, beta)
    xi = x.clone().requires_grad_(True)
    torch.manual_seed(2)
    loss(model(xi)).backward()
    result = [xi.grad] + [p.grad.clone() for p in model.parameters() if p.requires_grad]
    model.zero_grad()
    return result


def relative_error(got, reference) -> float:
    """The largest relative error of any tensor in ``got`` against its partner in ``reference``."""
    return max(float((u - v).norm() / v.norm().clamp_min(1e-30)) for u, v in zip(got, reference, strict=True))


def global_relative_error(got, reference) -> float:
    """The relative error of all tensors taken together as one vector (in fp32)."""
    diff = torch.cat([(a.float() - b.float()).flatten() for a, b in zip(got, reference, strict=True)]).norm()
    return float(diff / torch.cat([b.float().flatten() for b in reference]).norm())


def saved_bytes(fn) -> int:
    """Bytes of the distinct storages autograd saves for backward while ``fn()`` runs."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def all_configs():
    return sorted(p for p in CONFIGS.rglob('*.py') if '_base_' not in p.parts)


def config_id(path: Path) -> str:
    return str(path.relative_to(CONFIGS))


os.environ.setdefault('OMP_NUM_THREADS', '2')

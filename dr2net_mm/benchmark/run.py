"""Benchmark the methods on a config: its backbone alone, or the whole model on a synthetic batch."""
import contextlib
import copy
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from ..methods.dr2net import dr2net_summary
from .meta import cpu_kernel_choices
from .step import relative_gradient_error, run_inference, run_steps
from .synthetic import ModelLoss, synthetic_batch
from .variants import (
    METHODS,
    NotApplicable,
    check_with_cp,
    fuse_mmcv_attention,
    method_backbone_cfg,
    original_backbone_cfg,
)

MiB = 2 ** 20


def _outputs(out) -> List[torch.Tensor]:
    """A backbone's output tensors, nested lists flattened (MViT: ``[patch tokens, class token]`` per scale)."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _outputs(o)]
    return []


def autocast_dtype(device: torch.device) -> torch.dtype:
    """fp16 on CUDA, as ``--amp`` trains (mmengine's AmpOptimWrapper); bf16 on the CPU, whose autocast
    is made for it."""
    return torch.float16 if device.type == 'cuda' else torch.bfloat16


class AutocastLoss:
    """A loss computed under autocast with the backward outside it, as mixed-precision training runs.
    In fp16 the loss is scaled by 2^16, where mmengine's AmpOptimWrapper (torch's GradScaler) starts,
    so small gradients do not underflow to zero (relative gradient errors do not depend on it)."""

    def __init__(self, loss, device: torch.device):
        self.loss, self.device = loss, device
        self.scale = 2.0 ** 16 if autocast_dtype(device) == torch.float16 else 1.0

    def __call__(self, model) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=autocast_dtype(self.device)):
            return self.loss(model).float() * self.scale


class BackboneLoss:
    """Sum of every output against fixed random weights: every output and every unit gets a gradient."""

    def __init__(self, x: torch.Tensor):
        self.x = x
        self.weights: Optional[List[torch.Tensor]] = None

    def __call__(self, model) -> torch.Tensor:
        outs = _outputs(model(self.x))
        if self.weights is None:
            g = torch.Generator().manual_seed(1234)
            self.weights = [torch.randn(o.shape, generator=g).to(o) for o in outs]
        return sum((o * w).mean() for o, w in zip(outs, self.weights, strict=True))


def _forward(model, x: torch.Tensor, amp: bool):
    with torch.autocast(x.device.type, dtype=autocast_dtype(x.device)) if amp else contextlib.nullcontext():
        return model(x)


def build_model(cfg: Config, backbone_cfg: Dict, state: Optional[Dict], device: torch.device,
                whole_model: bool = False):
    """The backbone built from ``backbone_cfg``, or the config's whole model with that backbone."""
    init_default_scope(cfg.default_scope)
    if whole_model:
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg['backbone'] = copy.deepcopy(backbone_cfg)
        model = MODELS.build(model_cfg)
    else:
        model = MODELS.build(copy.deepcopy(backbone_cfg))
    if state is not None:
        model.load_state_dict(state, strict=True)
    model.to(device)
    model.train()
    return model


def _build_variant(cfg: Config, method: str, alpha: float, beta: float, state: Dict, device: torch.device,
                   whole_model: bool, dtl: Optional[Dict], grad_mode: str = 'auto', dr2net: Optional[Dict] = None):
    """The model for one row, with the shared weights; raises :class:`NotApplicable` where it does not apply."""
    variant = method_backbone_cfg(cfg.model.backbone, method, alpha or 0.0, beta or 0.0, grad_mode=grad_mode, dtl=dtl,
                                  dr2net=dr2net)
    if method != 'dtl':
        model = build_model(cfg, variant, state, device, whole_model)
    else:   # the frozen backbone keeps the same weights; the side network is new
        model = build_model(cfg, variant, None, torch.device('cpu'), whole_model)
        unexpected = [k for k in model.load_state_dict(state, strict=False).missing_keys if 'dtl_side.' not in k]
        if unexpected:
            raise RuntimeError(f'DTL variant lacks weights of the original model: {unexpected[:5]}')
        model.to(device)
    reason = check_with_cp(model) if method in ('with_cp', 'with_cp_sdpa') else None
    if reason:
        raise NotApplicable(reason)
    if method == 'with_cp_sdpa' and not fuse_mmcv_attention(model):
        raise NotApplicable("the backbone has no mmcv MultiheadAttention to run through the fused kernel")
    return model


def _dr2net_reference_grads(cfg: Config, alpha: float, beta: float, state: Dict, device: torch.device,
                            whole_model: bool, loss) -> List[torch.Tensor]:
    """Ordinary backprop of the same Dr²Net network (grad_mode='autograd'), built on its own."""
    reference = _build_variant(cfg, 'dr2net', alpha, beta, state, device, whole_model, None, grad_mode='autograd')
    return run_steps(reference, loss, iters=0, warmup=0, track=False).grads


def _kernels_as_on_cpu(device: torch.device):
    """On the meta device, operators take the kernels the CPU would take (:mod:`.meta`)."""
    return cpu_kernel_choices() if device.type == 'meta' else contextlib.nullcontext()


def benchmark_config(cfg: Config, methods: Sequence[str], input_shape: Tuple[int, ...],
                     coefficients: Iterable[Tuple[float, float]], iters: int = 3, warmup: int = 1,
                     device: str = 'cpu', progress=None, dtl: Optional[Dict] = None,
                     whole_model: bool = False, peak_report: int = 0, inference: bool = False,
                     amp: bool = False, dr2net: Optional[Dict] = None) -> List[Dict]:
    """Rows of measurements; ratios are to ``autograd`` and ``with_cp`` of the same run.

    ``whole_model=False``: the backbone alone on a random input of ``input_shape``, loss = every
    output against fixed random weights. ``whole_model=True``: the config's detector, segmentor or
    recognizer on a synthetic batch of that shape with synthetic targets, loss = its training loss.
    ``peak_report=N``: each row also lists the N largest groups of tensors alive at its peak.
    ``inference=True`` (backbone alone): the peak of an eval-mode forward without a graph instead.
    ``device='meta'`` (backbone alone): the same allocations without computing anything, so sizes no
    real memory holds can be measured; no times, gradient errors or reconstruction errors.
    ``amp=True``: every method's forward (and the inference forward) under autocast, fp16 on CUDA and
    bf16 on the CPU (:func:`autocast_dtype`); gradient errors are then against autograd under it.
    ``dr2net``: settings of the Dr2Net rows over the config's wrapper (``piece_working_set``, ``tol``).
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f'unknown method {unknown[0]!r}; choose from {", ".join(METHODS)}')
    dev = torch.device(device)
    if dev.type == 'meta' and whole_model:
        raise ValueError("device 'meta' measures the backbone alone (--backbone-only): a whole model's "
                         'losses and targets need values')
    if inference and whole_model:
        raise ValueError('inference is measured on the backbone alone (--backbone-only)')
    if amp and dev.type == 'meta':
        raise ValueError("device 'meta' computes nothing, so autocast (--amp) has no dtype choices to make")
    original = original_backbone_cfg(cfg.model.backbone)
    # The one input every method sees: checked (whole model) before anything is built.
    if whole_model:
        batch = synthetic_batch(cfg, input_shape)
    else:
        x = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0)).to(dev)
    torch.manual_seed(0)
    state = build_model(cfg, original, None, torch.device('cpu'), whole_model).state_dict()
    rows, autograd_grads = [], None
    plan = [(m, a, b) for m in methods for (a, b) in (coefficients if m == 'dr2net' else [(None, None)])]
    for method, alpha, beta in plan:
        if progress:
            progress(method, alpha, beta)
        row = dict(method=method, alpha=alpha, beta=beta)
        rows.append(row)
        try:
            model = _build_variant(cfg, method, alpha, beta, state, dev, whole_model, dtl, dr2net=dr2net)
        except (NotApplicable, TypeError, ValueError) as error:
            row['status'] = f'n/a: {error}'
            continue
        loss = None if inference else ModelLoss(model, batch) if whole_model else BackboneLoss(x)
        if amp and loss is not None:
            loss = AutocastLoss(loss, dev)
        with _kernels_as_on_cpu(dev):
            result = (run_inference(model, lambda m: _forward(m, x, amp), peak_report=peak_report) if inference
                      else run_steps(model, loss, iters=iters, warmup=warmup, peak_report=peak_report))
        row.update(status='ok', peak_mib=result.peak_bytes / MiB,
                   trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad))
        if peak_report:
            row['alive_at_peak'] = result.alive_at_peak
        if inference:            # a forward alone: no saved tensors, times or gradients
            row['grad_error'] = None
            continue
        row.update(saved_mib=result.saved_bytes / MiB, seconds=result.median_seconds if result.seconds else None,
                   cuda_peak_mib=None if result.cuda_peak_bytes is None else result.cuda_peak_bytes / MiB)
        if dev.type == 'meta':   # shapes without values: nothing to compare
            row['grad_error'] = None
            if method == 'dr2net':
                row['chunk_length'] = dr2net_summary(model)['chunk_length']
        elif method == 'autograd':
            autograd_grads, row['grad_error'] = result.grads, 0.0
        elif method in ('with_cp', 'with_cp_sdpa'):
            row['grad_error'] = (None if autograd_grads is None
                                 else relative_gradient_error(result.grads, autograd_grads))
        elif method == 'dr2net':
            summary = dr2net_summary(model)
            row.update(chunk_length=summary['chunk_length'], recon_error=summary['recon_error'])
            del model
            reference = _dr2net_reference_grads(cfg, alpha, beta, state, dev, whole_model, loss)
            row['grad_error'] = relative_gradient_error(result.grads, reference)
        else:
            row['grad_error'] = None   # DTL is a different network: nothing to compare with
    _add_ratios(rows)
    return rows


def _add_ratios(rows: List[Dict]) -> None:
    """Peak and time of every measured row relative to the autograd and with_cp rows of the same run."""
    baselines = {}
    for row in rows:
        if row.get('status') == 'ok':
            baselines.setdefault(row['method'], row)
    for row in rows:
        if row.get('status') != 'ok':
            continue
        for base in ('autograd', 'with_cp'):
            ref = baselines.get(base)
            if ref is not None:
                row[f'peak_vs_{base}'] = row['peak_mib'] / ref['peak_mib']
                row[f'time_vs_{base}'] = (row['seconds'] / ref['seconds']
                                          if row.get('seconds') and ref.get('seconds') else None)

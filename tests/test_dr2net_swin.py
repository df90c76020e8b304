"""Dr²Net on the Swin family of mmdet, mmseg and mmaction2: equivalence, gradients, memory, keys, errors."""
import copy
import functools

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

import dr2net_mm
from dr2net_mm.methods.dr2net import dr2net_methods, dr2net_summary

from conftest import CONFIGS, SWIN_BACKBONES, as_list, build_swin, output_differences, relative_error, saved_bytes


@pytest.mark.parametrize('scope', sorted(SWIN_BACKBONES))
@pytest.mark.parametrize('train', [True, False])
def test_identical_to_original_at_alpha1_beta0(scope, train):
    original, x = build_swin(scope)
    converted = dr2net_mm.to_dr2net(copy.deepcopy(original))
    original.train(train), converted.train(train)
    assert max(output_differences(original, converted, x, seed=7)) <= 1e-5


def _grads(model, x, alpha, beta, mode):
    method = dr2net_methods(model)[0]
    method.grad_mode = mode
    dr2net_mm.set_coefficients(model, alpha, beta)
    xi = x.clone().requires_grad_(True)
    torch.manual_seed(11)
    outs = as_list(model(xi))
    weights = [torch.randn(o.shape, generator=torch.Generator().manual_seed(i)) for i, o in enumerate(outs)]
    sum((o * w).sum() for o, w in zip(outs, weights, strict=True)).backward()
    grads = [xi.grad] + [p.grad.clone() for p in model.parameters() if p.requires_grad]
    model.zero_grad()
    return grads, dr2net_summary(model)


@pytest.mark.parametrize('scope', sorted(SWIN_BACKBONES))
def test_gradients_against_autograd_with_drop_path(scope):
    model, x = build_swin(scope)
    dr2net_mm.to_dr2net(model)
    model.train()
    for alpha, beta in [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]:
        reference, _ = _grads(model, x, alpha, beta, 'autograd')
        for mode in ('auto', 'checkpoint'):
            grads, summary = _grads(model, x, alpha, beta, mode)
            assert relative_error(grads, reference) <= 1e-3, (alpha, beta, mode)
    reference, _ = _grads(model, x, 0.0, 1.0, 'autograd')
    grads, summary = _grads(model, x, 0.0, 1.0, 'reversible')
    assert relative_error(grads, reference) <= 1e-5
    assert summary['chunk_length'] == 4 and summary['recon_error'] < 1e-5


def _forward(model, x):
    return as_list(model(x.clone().requires_grad_(True)))


@pytest.mark.parametrize('scope', ['mmdet', 'mmaction'])
def test_stored_bytes_do_not_grow_with_depth_when_reversible(scope):
    measured = {}
    for depth in (2, 8):
        cfg = copy.deepcopy(SWIN_BACKBONES[scope][0])
        depths = [2, 2, depth, 2]
        if scope == 'mmaction':
            cfg['arch'] = dict(cfg['arch'], depths=depths)
            init_default_scope(scope)
            model, x = MODELS.build(dict(cfg)), torch.randn(*SWIN_BACKBONES[scope][1])
        else:
            model, x = build_swin(scope, depths=depths)
        model.train()
        plain = saved_bytes(functools.partial(_forward, model, x))
        dr2net_mm.to_dr2net(model, alpha=0.0, beta=1.0, grad_mode='reversible')
        measured[depth] = (plain, saved_bytes(functools.partial(_forward, model, x)))
    (plain2, rev2), (plain8, rev8) = measured[2], measured[8]
    assert plain8 - plain2 > 1e6          # conventional storage grows with depth (~0.3 MB per block here)
    assert rev8 == rev2                   # reversible storage does not
    assert rev8 < plain2


def test_whole_detector_checkpoint_loads_without_missing_or_unexpected_keys():
    conventional = Config.fromfile(str(CONFIGS / 'detection/mask-rcnn_swin-nano_fpn_demo-shapes-finetune.py'))
    converted = Config.fromfile(str(CONFIGS / 'detection/mask-rcnn_swin-nano_fpn_demo-shapes-dr2net.py'))
    init_default_scope('mmdet')
    source = MODELS.build(conventional.model)
    target = MODELS.build(converted.model)
    assert dr2net_methods(target)
    result = target.load_state_dict(source.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert source.state_dict().keys() == target.state_dict().keys()


def test_coefficients_are_set_on_every_converted_part():
    model, _ = build_swin('mmdet')
    dr2net_mm.to_dr2net(model)
    assert dr2net_mm.get_coefficients(model) == (1.0, 0.0)
    dr2net_mm.set_coefficients(model, 0.25, 0.75)
    assert dr2net_mm.get_coefficients(model) == (0.25, 0.75)
    copied = copy.deepcopy(model)       # EMA-style copies run their own parameters
    dr2net_mm.set_coefficients(copied, 0.0, 1.0)
    assert dr2net_mm.get_coefficients(model) == (0.25, 0.75)
    # numpy and 0-d torch numbers (a schedule computed with them) are plain numbers here
    dr2net_mm.set_coefficients(model, np.float32(0.5), torch.tensor(0.5, dtype=torch.float64))
    assert dr2net_mm.get_coefficients(model) == (0.5, 0.5)
    assert all(type(v) is float for v in dr2net_mm.get_coefficients(model))
    with pytest.raises(TypeError, match=r'beta must be a number, got tensor\(\[0.5000, 0.5000\]\)'):
        dr2net_mm.set_coefficients(model, 0.5, torch.tensor([0.5, 0.5]))


def test_get_stats_reports_the_last_step_per_segment_and_summarised():
    model, x = build_swin('mmdet')
    dr2net_mm.to_dr2net(model, alpha=0.0, beta=1.0)
    assert dr2net_mm.get_stats(model)['summary'] == dict(chunk_length=0, recon_error=0.0, stored_tensors=0, fallbacks=0)
    sum(o.sum() for o in model(x)).backward()
    stats = dr2net_mm.get_stats(model)
    segments = stats['segments']
    assert len(segments) == 4 and all(s['chunk_length'] == s['num_units'] for s in segments.values())
    assert stats['summary']['chunk_length'] == min(s['chunk_length'] for s in segments.values()) == 4
    assert stats['summary']['recon_error'] == max(s['recon_error'] for s in segments.values()) < 1e-5
    assert stats['summary']['fallbacks'] == 0
    assert stats['summary'] == dr2net_summary(model)


def test_clear_errors():
    init_default_scope('mmdet')
    mobilenet = MODELS.build(dict(type='MobileNetV2'))
    with pytest.raises(TypeError, match=r'MobileNetV2 is not supported.*supported backbones: ') as refused:
        dr2net_mm.to_dr2net(mobilenet)
    for name in ('ResNet (mmdet)', 'SwinTransformer (mmdet)', 'MixVisionTransformer (mmseg)'):
        assert name in str(refused.value)
    model, _ = build_swin('mmdet', with_cp=True)
    with pytest.raises(ValueError, match="with_cp=True .* converted by Dr2Net: .*grad_mode='checkpoint'"):
        dr2net_mm.to_dr2net(model)
    with pytest.raises(ValueError, match='with_cp=True .* converted by DTL: the backbone is frozen') as refused:
        dr2net_mm.to_dtl(model, rank=2, inject_from=1)
    assert 'grad_mode' not in str(refused.value) and 'Dr2Net' not in str(refused.value)
    model, _ = build_swin('mmdet')
    with pytest.raises(ValueError, match="'reversible' needs beta > 0"):
        dr2net_mm.to_dr2net(model, beta=0.0, grad_mode='reversible')
    with pytest.raises(ValueError, match='unknown grad_mode'):
        dr2net_mm.to_dr2net(model, grad_mode='fast')
    with pytest.raises(TypeError, match="tol must be a number, got 'x'"):
        dr2net_mm.to_dr2net(model, tol='x')
    with pytest.raises(ValueError, match='tol must be a finite number > 0, got 0.0'):
        dr2net_mm.to_dr2net(model, tol=0)
    dr2net_mm.to_dr2net(model)
    with pytest.raises(ValueError, match='already converted'):
        dr2net_mm.to_dr2net(model)
    with pytest.raises(ValueError, match='alpha must be a finite number'):
        dr2net_mm.set_coefficients(model, -1.0, 0.5)
    with pytest.raises(ValueError, match='no Dr2Net-converted backbone'):
        dr2net_mm.set_coefficients(mobilenet, 0.5, 0.5)


def test_frozen_stages_and_eval_keep_their_meaning():
    model, x = build_swin('mmdet', frozen_stages=2)
    model.train()
    dr2net_mm.to_dr2net(model, alpha=0.5, beta=0.5)
    outs = model(x)
    sum(o.sum() for o in outs).backward()
    frozen = [p for n, p in model.named_parameters() if n.startswith(('patch_embed', 'stages.0', 'stages.1'))]
    assert frozen and all(p.grad is None for p in frozen)
    assert any(p.grad is not None for n, p in model.named_parameters() if n.startswith('stages.3'))


@pytest.mark.parametrize('wrapper', ['dr2net_mm.Dr2Net', 'dr2net_mm.DTL'])
def test_init_cfg_pretrained_checkpoint_lands_in_the_backbone(tmp_path, wrapper):
    """A backbone checkpoint named in the inner init_cfg (as a model zoo one) loads through the wrapper."""
    init_default_scope('mmdet')
    torch.manual_seed(5)
    source = MODELS.build(dict(SWIN_BACKBONES['mmdet'][0]))
    path = tmp_path / 'backbone.pth'
    # the layout of OpenMMLab's converted Swin checkpoints: keys under 'backbone.'
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in source.state_dict().items()}), path)
    cfg = Config.fromfile(str(CONFIGS / 'detection/mask-rcnn_swin-nano_fpn_demo-shapes-finetune.py'))
    inner = dict(SWIN_BACKBONES['mmdet'][0], init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    extra = dict(rank=2, inject_from=5) if wrapper.endswith('DTL') else {}
    cfg.model.backbone = dict(type=wrapper, backbone=inner, **extra)
    cfg.model.neck.in_channels = [16, 32, 64, 128]
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    for name, value in source.state_dict().items():
        assert torch.equal(detector.backbone.state_dict()[name], value), name


def test_a_converted_backbone_exports_by_tracing():
    """``torch.jit.trace`` (and exporters built on it) records the plain network, with gradients
    enabled or not; the traced module computes what the converted one does, at its coefficients."""
    model, x = build_swin('mmdet')
    converted = dr2net_mm.to_dr2net(model, alpha=0.5, beta=0.5)
    converted.eval()
    expected = converted(x)
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            traced = torch.jit.trace(converted, x, check_trace=False)
        for got, want in zip(traced(x), expected, strict=True):
            assert torch.allclose(got, want, rtol=0, atol=1e-5)

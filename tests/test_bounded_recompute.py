"""The bounded recompute (``reversible.pieces``): Video Swin's attention units recomputed a few windows
at a time, its MLP units a few tokens at a time, ResNet blocks with frozen BatchNorm a few samples at
a time, with the gradients of the whole-unit recompute and a working set of one piece."""
import copy

import numpy as np
import pytest
import torch
from mmengine.registry import MODELS, init_default_scope
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import dr2net_mm
from dr2net_mm.adapters.pieces import token_pieces
from dr2net_mm.adapters.resnet import resnet_branch, resnet_samples
from dr2net_mm.adapters.swin3d import ShiftMask, swin3d_block_units
from dr2net_mm.benchmark import LiveTensorTracker
from dr2net_mm.reversible import SamplePieces, SegmentStats, Unit
from dr2net_mm.reversible.pieces import MIN_PIECE_ROWS, backward_by_pieces, backward_by_samples
from dr2net_mm.reversible.replay import AutocastState, RngState, backward_by_recompute
from dr2net_mm.reversible.segment import run_segment

from conftest import as_list, build_swin, dr2net_gradients, global_relative_error, weighted_output_loss


def stage_units(thw=(2, 15, 15), channels=16, batch=2, **overrides):
    """The units of stage 1 of a small Video Swin (shifted and padded windows) and an input for them."""
    from mmaction.models.backbones.swin import get_window_size
    backbone, _ = build_swin('mmaction', **overrides)
    backbone.train()
    stage = backbone.layers[0]
    window, shift = get_window_size(thw, stage.window_size, stage.shift_size)
    padded = [int(np.ceil(n / w)) * w for n, w in zip(thw, window, strict=True)]
    mask = ShiftMask(padded, window, shift, 'cpu')
    units = [u for block in stage.blocks for u in swin3d_block_units(block, mask, thw)]
    return units, torch.randn(batch, *thw, channels, generator=torch.Generator().manual_seed(3))


def unit_backward(unit, x, grad, pieced: bool):
    """Value, input gradient and parameter gradients of one unit's recompute (both from one RNG state)."""
    params = unit.trainable_parameters
    for p in params:
        p.grad = None
    rng, autocast = RngState.capture(x), AutocastState.capture(x)
    if pieced:
        value, grad_in = backward_by_pieces(unit.pieces, 1.0, x, grad, unit.modules, params, rng, autocast)
    else:
        value, grad_in = backward_by_recompute(lambda t: unit(t, 1.0), x, grad, unit.modules, params, rng, autocast)
    return [value, grad_in] + [p.grad.clone() for p in params]


def assert_pieces_equal_the_whole_units(units, x):
    """Each unit comes in more than one piece, and its pieced recompute gives the whole unit's value
    and gradients (from one RNG state), its pieced forward the whole forward's value.

    Each to 1e-6 of its norm; a gradient that is zero by construction (MViT's key-norm bias: softmax
    ignores a shift shared by all keys) is rounding noise, compared at 1 % of the unit's largest."""
    for i, unit in enumerate(units):
        assert unit.in_pieces() and len(unit.pieces.ranges(unit.pieces.split(x))) > 1, i
        grad = torch.randn_like(x)
        whole, pieced = unit_backward(unit, x, grad, False), unit_backward(unit, x, grad, True)
        largest = max(float(b.norm()) for b in whole)
        for a, b in zip(pieced, whole, strict=True):
            assert float((a - b).norm()) <= 1e-6 * max(float(b.norm()), 0.01 * largest), i
        with torch.no_grad():
            torch.manual_seed(5)
            expected = unit(x, 1.0)
            torch.manual_seed(5)
            assert torch.allclose(unit.bounded(x, 1.0), expected, rtol=0, atol=1e-6)


def test_each_video_swin_unit_in_pieces_equals_the_whole_unit():
    """Shifted and unshifted windows, padding, drop-path drawing in train mode: same value, same gradients."""
    units, x = stage_units()
    assert_pieces_equal_the_whole_units(units, x)


def test_dropout_in_the_core_turns_the_pieces_off():
    """Pieces would draw dropout masks other than the forward's: the unit runs whole instead."""
    units, _ = stage_units(attn_drop_rate=0.1, drop_rate=0.1)
    assert not any(u.in_pieces() for u in units)
    for unit in units:
        for m in unit.modules:
            m.eval()
    assert all(u.in_pieces() for u in units)


def squares(outputs):
    """The loss of the gradient comparisons: every output's mean square."""
    return sum((out ** 2).mean() for out in as_list(outputs))


def build(family):
    """A small backbone of each family with pieces, and an input whose token grid pads the windows."""
    if family == 'mmdet':
        return build_swin(family)[0], torch.randn(2, 3, 60, 60, generator=torch.Generator().manual_seed(1))
    if family == 'mmaction':
        return build_swin(family)[0], torch.randn(2, 3, 4, 60, 60, generator=torch.Generator().manual_seed(1))
    scope, cfg, shape = {
        'mmseg-vit': ('mmseg', dict(type='VisionTransformer', img_size=(64, 64), embed_dims=64, num_layers=4,
                                    num_heads=4, out_indices=(1, 3), drop_path_rate=0.2, final_norm=True),
                      (2, 3, 64, 64)),
        'mmaction-videomae': ('mmaction', dict(type='VisionTransformer', img_size=64, embed_dims=64, depth=4,
                                               num_heads=4, num_frames=4, drop_path_rate=0.2, init_values=0.1),
                              (1, 3, 4, 64, 64)),
        'mmseg-beit': ('mmseg', dict(type='BEiT', img_size=(64, 64), embed_dims=64, num_layers=4, num_heads=4,
                                     out_indices=(1, 3), drop_path_rate=0.2), (2, 3, 64, 64)),
        'mmpretrain-vit': ('mmpretrain', dict(type='VisionTransformer', img_size=256, patch_size=16,
                                              arch=dict(embed_dims=64, num_layers=2, num_heads=4,
                                                        feedforward_channels=128),
                                              out_indices=(0, 1), drop_path_rate=0.2, layer_scale_init_value=0.1,
                                              out_type='featmap'), (2, 3, 256, 256)),
        'mmpretrain-swin': ('mmpretrain', dict(type='SwinTransformer', img_size=112, window_size=4,
                                               arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4]),
                                               drop_path_rate=0.2, out_indices=(0, 1, 2, 3)), (2, 3, 100, 100)),
        'mmpretrain-convnext': ('mmpretrain', dict(type='ConvNeXt', arch=dict(depths=[2, 2, 2, 2],
                                                                              channels=[16, 32, 32, 64]),
                                                   out_indices=(0, 1, 2, 3), gap_before_final_norm=False),
                                (3, 3, 64, 64)),
        'mmseg-mit': ('mmseg', dict(type='MixVisionTransformer', embed_dims=16, num_layers=[1, 2, 1, 1],
                                    num_heads=[2, 2, 2, 4], sr_ratios=[4, 2, 1, 1], out_indices=(0, 1, 2, 3)),
                      (2, 3, 64, 64)),
        'mmaction-mvit': ('mmaction', dict(type='MViT', arch=dict(embed_dims=32, num_layers=4, num_heads=2,
                                                                 downscale_indices=[2]),
                                           temporal_size=4, spatial_size=64, drop_path_rate=0.2),
                          (2, 3, 4, 64, 64)),
    }[family]
    init_default_scope(scope)
    torch.manual_seed(0)
    backbone = MODELS.build(cfg)
    if family == 'mmaction-mvit':
        # Every MViT output is layer-normed: with the norms' initial unit scale and zero shift a sum of
        # squares would not depend on the features (gradients of rounding noise only).
        with torch.no_grad():
            for name, norm in backbone.named_children():
                if name.startswith('norm'):
                    norm.weight.normal_(), norm.bias.normal_()
    return backbone, torch.randn(*shape, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize('family', ['mmdet', 'mmaction', 'mmseg-vit', 'mmaction-videomae', 'mmseg-beit',
                                    'mmaction-mvit', 'mmseg-mit', 'mmpretrain-vit', 'mmpretrain-swin',
                                    'mmpretrain-convnext'])
def test_gradients_with_pieces_match_autograd(family):
    """Swin (mmseg's is mmdet's; mmpretrain's), Video Swin (windows and tokens), ViTs (mmseg, mmpretrain), VideoMAE,
    BEiT and MViT (heads and MLP tokens), with drop-path drawing; MiT (attention heads, Mix-FFN by
    samples) and ConvNeXt (blocks by samples), without drop-path:
    within 1e-5 of autograd wherever nothing is reconstructed or beta = 1; within tol (1e-3) where
    ``auto`` reconstructs at (0.5, 0.5) (the reconstruction's own error, with or without pieces)."""
    backbone, x = build(family)
    converted = dr2net_mm.to_dr2net(copy.deepcopy(backbone))
    converted.train()

    for alpha, beta in [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]:
        reference = dr2net_gradients(converted, x, 'autograd', alpha, beta, squares)
        for mode in ('auto', 'checkpoint'):
            err = global_relative_error(dr2net_gradients(converted, x, mode, alpha, beta, squares), reference)
            assert err <= (1e-3 if (mode, alpha) == ('auto', 0.5) else 1e-5), (mode, alpha, beta, err)


def test_pieces_bound_the_recompute_working_set():
    """One attention unit with large windows (128 tokens, attention matrices 8 x the stream): the
    pieced recompute's peak of live tensors is a fraction of the whole unit's."""
    units, x = stage_units(thw=(2, 32, 32), window_size=(2, 8, 8))
    attention = units[0]
    grad = torch.randn_like(x)
    peaks = {}
    for pieced in (False, True):
        with LiveTensorTracker() as tracker:
            unit_backward(attention, x, grad, pieced)
        peaks[pieced] = tracker.peak_bytes
    stream = x.numel() * x.element_size()
    assert peaks[True] <= 0.4 * peaks[False], (peaks, stream)
    assert peaks[True] <= 10 * stream, (peaks, stream)


def test_no_piece_has_fewer_rows_than_the_minimum():
    """Each piece reads the unit's weights and makes a full-size gradient of them: a Swin-B stage-4 MLP
    on 98 tokens runs whole, the stage-1 MLP on 6272 tokens in pieces of at least MIN_PIECE_ROWS
    tokens; a ResNet block's samples go one at a time only where a sample has that many positions."""
    mlp = nn.Sequential(nn.LayerNorm(64), nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))
    pieces = token_pieces(mlp, nn.Identity(), 4.0, mlp)
    assert pieces.ranges(torch.randn(2, 98, 64)) == [(0, 98)]
    ranges = pieces.ranges(torch.randn(2, 3136, 64))
    assert len(ranges) == 7 and 2 * min(b - a for a, b in ranges) >= MIN_PIECE_ROWS
    samples = SamplePieces(expansion=5.5)
    assert samples.ranges(torch.randn(2, 8, 8, 8)) == [(0, 2)]
    assert samples.ranges(torch.randn(2, 8, 16, 16)) == [(0, 1), (1, 2)]


def test_piece_working_set_trades_peak_for_fewer_pieces():
    """``Dr2Net(piece_working_set=...)``: a larger target cuts a unit into fewer pieces (on a GPU, fewer
    kernel launches), infinity recomputes every unit whole; the gradients stay those of autograd, and
    the peak grows. Nonsense is refused by name."""
    backbone, _ = build_swin('mmaction', window_size=(2, 8, 8))
    x = torch.randn(1, 3, 4, 128, 128, generator=torch.Generator().manual_seed(1))
    mlp = nn.Sequential(nn.LayerNorm(64), nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))
    pieces = token_pieces(mlp, nn.Identity(), 8.0, mlp)
    tokens = torch.randn(2, 3136, 64)
    counts = []
    for working_set in (2.0, 8.0, float('inf')):
        pieces.working_set = working_set
        counts.append(len(pieces.ranges(tokens)))
    assert counts[0] > counts[1] > counts[2] == 1, counts
    peaks, grads = {}, {}
    for working_set in (2.0, float('inf')):
        model = dr2net_mm.to_dr2net(copy.deepcopy(backbone), piece_working_set=working_set)
        model.train()
        reference = dr2net_gradients(model, x, 'autograd', 0.0, 1.0)
        with LiveTensorTracker() as tracker:
            grads[working_set] = dr2net_gradients(model, x, 'auto', 0.0, 1.0)
        peaks[working_set] = tracker.peak_bytes
        assert global_relative_error(grads[working_set], reference) <= 1e-5
    assert peaks[float('inf')] > 1.15 * peaks[2.0], peaks   # measured 1.26 x
    for bad, error in ((0.0, ValueError), ('big', TypeError)):
        with pytest.raises(error, match='piece_working_set'):
            dr2net_mm.to_dr2net(copy.deepcopy(backbone), piece_working_set=bad)


def test_piece_working_set_from_a_config_reaches_the_method_and_the_benchmark():
    from dr2net_mm.benchmark.variants import method_backbone_cfg
    from dr2net_mm.methods.dr2net import dr2net_methods

    from conftest import SWIN_BACKBONES
    init_default_scope('mmaction')
    cfg = dict(type='dr2net_mm.Dr2Net', backbone=SWIN_BACKBONES['mmaction'][0], piece_working_set=8.0)
    (method,) = dr2net_methods(MODELS.build(cfg))
    assert method.piece_working_set == 8.0
    assert method_backbone_cfg(cfg, 'dr2net', 0.0, 1.0)['piece_working_set'] == 8.0
    assert method_backbone_cfg(cfg, 'dr2net', 0.0, 1.0, dr2net=dict(piece_working_set=2.0))['piece_working_set'] == 2.0


@pytest.mark.parametrize('family', ['mmdet', 'mmaction'])
def test_swin_patch_merging_is_recomputed_not_stored(family):
    """Patch merging between stages goes through the recompute of transitions (it stores its input
    only), as ResNet's downsampling blocks do; at alpha=1, beta=0 the outputs are unchanged."""
    backbone, x = build(family)
    converted = dr2net_mm.to_dr2net(copy.deepcopy(backbone), alpha=0.0, beta=1.0)
    converted.train()
    stages = converted.stages if family == 'mmdet' else converted.layers
    inputs = []
    for stage in list(stages)[1:]:
        stage.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
    converted(x)

    def producer(t):
        """The first node behind layout-only ops (Video Swin's backbone permutes and copies between stages)."""
        node = t.grad_fn
        while type(node).__name__.startswith(('Clone', 'Permute', 'View', 'Transpose')):
            node = node.next_functions[0][0]
        return type(node).__name__

    assert [producer(t) for t in inputs] == ['RecomputedTransitionBackward'] * 3


def mmdet_resnet(norm_eval: bool, batch: int = 3, side: int = 64):
    """mmdet's ResNet-18 (two blocks a stage) with its BatchNorm frozen (``norm_eval``) or training."""
    init_default_scope('mmdet')
    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                                 frozen_stages=1, norm_eval=norm_eval))
    backbone.train()
    return backbone, torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(1))


def test_resnet_units_recomputed_by_samples_with_frozen_batchnorm():
    """With frozen BatchNorm a block treats each sample alone: its backward recomputes a few samples
    at a time, gradients within 1e-5 of autograd; training BatchNorm mixes the batch, so it runs whole.
    (At 128² a stage-2 block's working set is larger than its weights' gradients, so pieces pay.)"""
    backbone, x = mmdet_resnet(norm_eval=True, side=128)
    converted = dr2net_mm.to_dr2net(copy.deepcopy(backbone))
    converted.train()
    block = converted.layer2[1]
    unit = Unit(lambda t: t, [block], samples=resnet_samples(block))
    assert unit.by_samples(x) and len(unit.samples.ranges(x)) == 3
    assert not unit.by_samples(x[:1])

    for alpha, beta in [(1.0, 0.0), (0.0, 1.0)]:
        reference = dr2net_gradients(converted, x, 'autograd', alpha, beta, squares)
        for mode in ('auto', 'checkpoint'):
            err = global_relative_error(dr2net_gradients(converted, x, mode, alpha, beta, squares), reference)
            assert err <= 1e-5, (mode, alpha, beta, err)

    training_bn, _ = mmdet_resnet(norm_eval=False)
    block = training_bn.layer2[1]
    assert not Unit(lambda t: t, [block], samples=resnet_samples(block)).by_samples(x)


def test_convnext_block_in_position_pieces_equals_the_whole_unit():
    """A ConvNeXt v1 block: the depthwise convolution whole, norm, MLP and layer scale a few positions at
    a time, drop-path drawing on the whole: the whole unit's value and gradients."""
    from dr2net_mm.adapters.convnext import convnext_branch, convnext_pieces
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    convnext = MODELS.build(dict(type='ConvNeXt', arch=dict(depths=[2, 2, 2, 2], channels=[16, 32, 32, 64]),
                                 drop_path_rate=0.3))
    convnext.train()
    units = [Unit(convnext_branch(b), [b], pieces=convnext_pieces(b)) for b in convnext.stages[1]]
    assert_pieces_equal_the_whole_units(units, torch.randn(2, 32, 48, 48, generator=torch.Generator().manual_seed(3)))


def test_mix_ffn_recomputed_by_samples_unless_it_draws_random_masks():
    """SegFormer's Mix-FFN (a depthwise convolution over the token grid) goes by samples; drop-path
    draws a mask per sample, so in training with it the unit runs whole, in eval by samples again."""
    from dr2net_mm.adapters.mit import mit_block_units
    init_default_scope('mmseg')
    x = torch.randn(4, 1024, 16)
    for rate, mode, expected in [(0.0, True, True), (0.2, True, False), (0.2, False, True)]:
        torch.manual_seed(0)
        mit = MODELS.build(dict(type='MixVisionTransformer', embed_dims=16, num_layers=[2, 1, 1, 1],
                                num_heads=[1, 2, 2, 4], drop_path_rate=rate))
        mit.train(mode)
        ffn = mit_block_units(mit.layers[0][1][1], (32, 32))[1]
        assert ffn.by_samples(x) is expected, (rate, mode)


def test_a_unit_by_samples_keeps_one_pieces_working_set():
    """A bottleneck's recompute by samples (6 samples, 3 pieces): the same value and gradients as the
    whole batch's; the peak holds the whole value and input gradient but one piece's activations."""
    init_default_scope('mmdet')
    torch.manual_seed(0)
    block = MODELS.build(dict(type='ResNet', depth=50, num_stages=1, out_indices=(0,), strides=(1,),
                              dilations=(1,), norm_eval=True)).layer1[1]
    block.eval()
    unit = Unit(resnet_branch(block), [block], post=torch.relu, samples=resnet_samples(block))
    x = torch.randn(6, 256, 32, 32)
    grad = torch.randn_like(x)
    params = unit.trainable_parameters
    results, peaks = {}, {}
    for by_samples in (False, True):
        for p in params:
            p.grad = None
        rng, autocast = RngState.capture(x), AutocastState.capture(x)
        with LiveTensorTracker() as tracker:
            if by_samples:
                value, grad_in = backward_by_samples(lambda t: unit(t, 1.0), unit.samples, x, grad, unit.modules,
                                                     params, rng, autocast)
            else:
                value, grad_in = backward_by_recompute(lambda t: unit(t, 1.0), x, grad, unit.modules, params, rng,
                                                       autocast)
        results[by_samples] = [value, grad_in] + [p.grad.clone() for p in params]
        peaks[by_samples] = tracker.peak_bytes - sum(p.grad.nbytes for p in params)
    for a, b in zip(results[True], results[False], strict=True):
        assert float((a - b).norm() / b.norm()) <= 1e-6
    assert peaks[True] <= 0.75 * peaks[False], peaks


def global_attention_units(family):
    """The attention units of a small ViT (mmseg, 256 tokens + class token), VideoMAE (layer scale,
    q/v bias), BEiT (those and a relative position bias, made non-zero) or MViT (pooled keys and values,
    decomposed relative positions, residual pooling), in train mode with drop-path drawing, and an input
    for them."""
    backbone, _ = build(family)
    backbone.train()
    if family == 'mmseg-vit':
        from dr2net_mm.adapters.vit import mmseg_vit_layer_units
        units = [mmseg_vit_layer_units(layer)[0] for layer in backbone.layers]
        tokens = 257
    elif family == 'mmseg-beit':      # 16 x 16 patches + class token: the relative position bias's grid
        from dr2net_mm.adapters.beit import beit_layer_units
        init_default_scope('mmseg')
        torch.manual_seed(0)
        backbone = MODELS.build(dict(type='BEiT', img_size=(256, 256), embed_dims=64, num_layers=2, num_heads=4,
                                     drop_path_rate=0.2))
        backbone.train()
        with torch.no_grad():
            for layer in backbone.layers:
                layer.attn.relative_position_bias_table.normal_()
        units = [beit_layer_units(layer)[0] for layer in backbone.layers]
        tokens = 257
    elif family == 'mmpretrain-vit':  # 16 x 16 patches + class token, layer scale
        from dr2net_mm.adapters.vit import mmpretrain_vit_layer_units
        units = [mmpretrain_vit_layer_units(layer)[0] for layer in backbone.layers]
        tokens = 257
    elif family == 'mmseg-mit':       # stage 1: 16 x 16 tokens, keys and values from the 4 x 4 reduced map
        from dr2net_mm.adapters.mit import mit_block_units
        units = [mit_block_units(block, (16, 16))[0] for block in backbone.layers[0][1]]
        return units, torch.randn(2, 256, 32, generator=torch.Generator().manual_seed(3))   # 16 x 2 heads
    elif family == 'mmaction-mvit':   # the first scale's blocks: 2 x 16 x 16 tokens + class token, pooled keys
        from dr2net_mm.adapters.mvit import mvit_block_units
        units = [mvit_block_units(block, (2, 16, 16))[0] for block in backbone.blocks[:2]]
        return units, torch.randn(2, 513, 32, generator=torch.Generator().manual_seed(3))
    else:
        from dr2net_mm.adapters.vit import videomae_block_units
        units = [videomae_block_units(block)[0] for block in backbone.blocks]
        tokens = 128
    return units, torch.randn(2, tokens, 64, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize('family', ['mmseg-vit', 'mmaction-videomae', 'mmseg-beit', 'mmaction-mvit', 'mmseg-mit',
                                    'mmpretrain-vit'])
def test_global_attention_in_head_pieces_equals_the_whole_unit(family):
    """Heads a few at a time (each through its slice of the q/k/v and output projections): the value
    and every gradient of the whole unit's recompute, and the value of its forward."""
    units, x = global_attention_units(family)
    assert_pieces_equal_the_whole_units(units, x)


def test_attention_dropout_turns_the_head_pieces_off():
    """Attention dropout draws one mask over all heads: the unit then runs whole."""
    units, _ = global_attention_units('mmseg-vit')
    for unit in units:
        unit.modules[1].attn.dropout = 0.1
    assert not any(u.in_pieces() for u in units)
    for unit in units:
        unit.modules[1].eval()
    assert all(u.in_pieces() for u in units)


def test_head_pieces_bound_the_attention_working_set():
    """One ViT attention unit (1025 tokens, 12 heads, as ViT-B at 512 x 512 with narrower channels):
    the recompute's peak by heads is well below the whole unit's, with the same gradients."""
    init_default_scope('mmseg')
    torch.manual_seed(0)
    layer = MODELS.build(dict(type='VisionTransformer', img_size=(512, 512), embed_dims=192, num_layers=1,
                              num_heads=12)).layers[0]
    layer.train()
    from dr2net_mm.adapters.vit import mmseg_vit_layer_units
    unit = mmseg_vit_layer_units(layer)[0]
    x = torch.randn(2, 1025, 192)
    grad = torch.randn_like(x)
    peaks, results = {}, {}
    for pieced in (False, True):
        with LiveTensorTracker() as tracker:
            results[pieced] = unit_backward(unit, x, grad, pieced)
        peaks[pieced] = tracker.peak_bytes - sum(p.grad.nbytes for p in unit.trainable_parameters)
    for a, b in zip(results[True], results[False], strict=True):
        assert float((a - b).norm() / b.norm()) <= 1e-6
    assert peaks[True] <= 0.75 * peaks[False], peaks


def test_the_reverse_walk_by_samples_makes_no_whole_batch_value_or_input_gradient():
    """Units by samples: each piece's value is inverted straight into the reconstructed stream (or, at
    the chunk's stored bottom pair, only compared with it) and its input gradient added into the
    pending stream gradient, so the backward allocates under five stream-sized tensors at (0, 1) and
    four at (1, 0) (measured: 4.4 and 4.0; 6.5 and 4.5 when each unit's value and input gradient
    were made whole; at (1, 0) the forward stores one value per two units and the backward recomputes
    the other, one stream more, where it stored every unit's input before), with autograd's gradients."""
    torch.manual_seed(0)
    layers = [torch.nn.Sequential(torch.nn.Linear(256, 64), torch.nn.Tanh(), torch.nn.Linear(64, 256))
              for _ in range(6)]
    x = torch.randn(8, 256, 256)
    stream = x.nbytes
    bounds = {(1.0, 0.0): 4.25, (0.0, 1.0): 4.75}
    stored = {(1.0, 0.0): 1 + 3, (0.0, 1.0): 1 + 2}     # input, x_2, x_4, x_6 / input, x_5, x_6
    for (alpha, beta), bound in bounds.items():
        grads = {}
        for mode in ('autograd', 'auto'):
            units = [Unit(layer, [layer], samples=SamplePieces(expansion=16.0)) for layer in layers]
            for layer in layers:
                layer.zero_grad(set_to_none=False)
            inp = x.clone().requires_grad_(True)
            stats = SegmentStats()
            out = run_segment(inp, units, alpha, beta, grad_mode=mode, stats=stats)
            grad = torch.ones_like(out)
            with LiveTensorTracker() as tracker:
                out.backward(grad)
            grads[mode] = [inp.grad] + [p.grad.clone() for layer in layers for p in layer.parameters()]
        assert tracker.peak_bytes <= bound * stream, (alpha, beta, tracker.peak_bytes / stream)
        assert stats.stored_tensors == stored[alpha, beta]
        assert global_relative_error(grads['auto'], grads['autograd']) <= 1e-6, (alpha, beta)


@pytest.mark.parametrize('alpha, beta, mode, stored, backward_calls', [
    (1.0, 0.0, 'auto', 1 + 4, 4 * (1 + 2)),       # x_2, x_4, x_6, x_8: one value per two units
    # errors grow ~100 x per unit: no reconstruction; pairs (x_3, x_4), (x_7, x_8); x_1, x_2 and x_5, x_6 recomputed
    (0.99, 0.01, 'auto', 1 + 4, 2 * (2 + 4)),
    (0.5, 0.5, 'checkpoint', 1 + 4, 2 * (2 + 4)),
    (0.0, 1.0, 'auto', 1 + 2, 8),                 # one chunk reconstructed: (x_7, x_8)
])
def test_where_nothing_is_reconstructed_spans_store_what_checkpointing_stores(alpha, beta, mode, stored,
                                                                               backward_calls):
    """Without reconstruction (the start of the schedule, grad_mode='checkpoint') the forward stores a
    boundary per span of units and the backward recomputes the values inside it forward: one stream value
    per two units (with_cp stores one input per transformer block of two units), never one per unit;
    the gradients are autograd's. The backward runs each unit once with its graph, and once before
    without it only where its output was not stored (x_{end-1} of a span's pair is taken as stored)."""
    torch.manual_seed(0)
    layers = [nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 32)) for _ in range(8)]
    x = torch.randn(4, 32)
    grads, calls = {}, []
    for grad_mode in ('autograd', mode):
        units = [Unit(layer, [layer]) for layer in layers]
        for layer in layers:
            layer.zero_grad(set_to_none=True)
        inp = x.clone().requires_grad_(True)
        stats = SegmentStats()
        out = run_segment(inp, units, alpha, beta, grad_mode=grad_mode, stats=stats)
        calls.clear()      # the units' calls in the backward
        hooks = [layer.register_forward_hook(lambda *args: calls.append(1)) for layer in layers]
        out.square().sum().backward()
        for hook in hooks:
            hook.remove()
        grads[grad_mode] = [inp.grad] + [p.grad for layer in layers for p in layer.parameters()]
    assert stats.stored_tensors == stored
    assert len(calls) == backward_calls
    assert global_relative_error(grads[mode], grads['autograd']) <= 1e-6


@pytest.mark.parametrize('padded, window, shift', [
    ((8, 14, 14), (4, 7, 7), (2, 3, 3)),      # 2 x 2 x 2 windows
    ((16, 28, 21), (4, 7, 7), (2, 3, 3)),     # interior windows along every axis
    ((4, 7, 7), (4, 7, 7), (2, 3, 3)),        # a single window
    ((12, 21, 14), (4, 7, 7), (0, 3, 3)),     # no shift in time
])
def test_shift_mask_is_mmaction_mask_held_by_window_pattern(padded, window, shift):
    from mmaction.models.backbones.swin import compute_mask
    expected = compute_mask(*padded, window, shift, 'cpu')
    mask = ShiftMask(padded, window, shift, 'cpu')
    assert len(mask) == expected.shape[0]
    assert torch.equal(mask[:], expected) and torch.equal(mask[3:7], expected[3:7])
    assert mask.patterns.shape[0] <= 8


class _Shapes(TorchDispatchMode):
    """The shape of every tensor an operator returns."""

    def __init__(self):
        super().__init__()
        self.shapes = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.shapes |= {tuple(t.shape) for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)}
        return out


def test_a_converted_video_swin_never_builds_a_whole_shift_mask():
    """mmaction builds (and caches) one (windows, N, N) mask per stage, the size of the attention of
    a block; the converted backbone's training step makes the masks of a few windows at a time."""
    from mmaction.models.backbones.swin import compute_mask
    backbone, x = build_swin('mmaction')
    whole_mask = (16, 32, 32)         # stage 1: 1 x 4 x 4 windows of 2 x 4 x 4 tokens
    for model in (backbone, dr2net_mm.to_dr2net(copy.deepcopy(backbone), alpha=0.0, beta=1.0)):
        model.train()
        compute_mask.cache_clear()
        with _Shapes() as seen:
            weighted_output_loss(model(x)).backward()
        assert (whole_mask in seen.shapes) == (model is backbone)


def test_inference_runs_the_attention_a_few_windows_at_a_time():
    """Without a graph (validation, testing) a converted Video Swin computes what the unconverted one
    computes, but never a block's whole attention: at 1,024 frames of 224² that is 14 GB."""
    backbone, _ = build_swin('mmaction', window_size=(2, 8, 8))
    x = torch.randn(1, 3, 4, 128, 128, generator=torch.Generator().manual_seed(4))
    whole_attention = (16, 1, 128, 128)   # stage 1: 1 x 4 x 4 windows of 2 x 8 x 8 tokens, one head
    outputs = {}
    for name, model in (('original', backbone), ('converted', dr2net_mm.to_dr2net(copy.deepcopy(backbone)))):
        model.eval()
        with torch.no_grad(), _Shapes() as seen:
            outputs[name] = as_list(model(x))
        assert (whole_attention in seen.shapes) == (name == 'original')
    for out, ref in zip(outputs['converted'], outputs['original'], strict=True):
        assert float((out - ref).norm() / ref.norm()) <= 1e-6

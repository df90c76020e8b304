"""Dr²Net and DTL on ResNets (mmdet, mmseg, mmaction2 2D/3D, SlowFast), ViTs (mmseg with out_indices,
VideoMAE, mmpretrain), mmpretrain's Swin and ConvNeXt (v1, v2), BEiT and MAE, MViTv2, and SegFormer's
MiT (backbones that run their stages' blocks themselves)."""
import copy
import functools

import pytest
import torch
from mmengine.registry import MODELS, init_default_scope

import dr2net_mm
from dr2net_mm.adapters.vit import mmcv_attention_branch
from dr2net_mm.benchmark import LiveTensorTracker
from dr2net_mm.methods.dr2net import dr2net_methods

from conftest import as_list, dr2net_gradients, global_relative_error, logged_messages, output_differences

I3D_INFLATE = ((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))
FAMILIES = {
    'mmdet-resnet50': ('mmdet', dict(type='ResNet', depth=50), (2, 3, 64, 64)),
    'mmdet-resnet50-bn-train': ('mmdet', dict(type='ResNet', depth=50, norm_eval=False), (2, 3, 64, 64)),
    'mmseg-resnet18-v1c': ('mmseg', dict(type='ResNetV1c', depth=18), (2, 3, 64, 64)),
    'mmaction-tsn-resnet50': ('mmaction', dict(type='ResNet', depth=50, pretrained=None), (2, 3, 64, 64)),
    'mmaction-i3d-resnet50': ('mmaction', dict(type='ResNet3d', depth=50, pretrained=None, pretrained2d=False,
                                               inflate=I3D_INFLATE), (1, 3, 4, 64, 64)),
    'mmaction-slowfast-r50': ('mmaction', dict(
        type='ResNet3dSlowFast', resample_rate=4, speed_ratio=4, channel_ratio=8,
        slow_pathway=dict(type='resnet3d', depth=50, pretrained=None, lateral=True, conv1_kernel=(1, 7, 7),
                          dilations=(1, 1, 1, 1), conv1_stride_t=1, pool1_stride_t=1, inflate=(0, 0, 1, 1),
                          norm_eval=False),
        fast_pathway=dict(type='resnet3d', depth=50, pretrained=None, lateral=False, base_channels=8,
                          conv1_kernel=(5, 7, 7), conv1_stride_t=1, pool1_stride_t=1, norm_eval=False)),
        (2, 3, 8, 32, 32)),
    'mmseg-vit': ('mmseg', dict(type='VisionTransformer', img_size=(64, 64), embed_dims=64, num_layers=6,
                                num_heads=4, out_indices=(1, 3, 5), drop_path_rate=0.2, final_norm=True),
                  (2, 3, 64, 64)),
    'mmseg-beit': ('mmseg', dict(type='BEiT', img_size=(64, 64), embed_dims=64, num_layers=4, num_heads=4,
                                 out_indices=(1, 3), drop_path_rate=0.2), (2, 3, 64, 64)),
    'mmseg-mae': ('mmseg', dict(type='MAE', img_size=(64, 64), embed_dims=64, num_layers=4, num_heads=4,
                                out_indices=(1, 3), drop_path_rate=0.2, final_norm=True), (2, 3, 64, 64)),
    'mmaction-mvit': ('mmaction', dict(type='MViT', arch=dict(embed_dims=32, num_layers=5, num_heads=2,
                                                             downscale_indices=[1, 3]),
                                       temporal_size=4, spatial_size=32, drop_path_rate=0.2, out_scales=[0, 1, 2]),
                      (2, 3, 4, 32, 32)),
    'mmpretrain-vit': ('mmpretrain', dict(type='VisionTransformer', arch=dict(embed_dims=64, num_layers=4,
                                                                             num_heads=4, feedforward_channels=128),
                                          img_size=64, patch_size=16, out_indices=(1, 3), drop_path_rate=0.2,
                                          layer_scale_init_value=0.1, out_type='featmap'),
                       (2, 3, 64, 64)),
    'mmpretrain-swin': ('mmpretrain', dict(type='SwinTransformer', arch=dict(embed_dims=16, depths=[2, 2, 2, 2],
                                                                             num_heads=[1, 2, 2, 4]),
                                           img_size=112, window_size=4, drop_path_rate=0.2, out_indices=(0, 1, 2, 3)),
                        (2, 3, 100, 100)),
    'mmpretrain-convnext': ('mmpretrain', dict(type='ConvNeXt', arch=dict(depths=[2, 2, 2, 2],
                                                                          channels=[16, 32, 32, 64]),
                                               out_indices=(0, 1, 2, 3), drop_path_rate=0.2,
                                               gap_before_final_norm=False), (2, 3, 64, 64)),
    'mmpretrain-convnext-v2': ('mmpretrain', dict(type='ConvNeXt', arch=dict(depths=[2, 2, 2, 2],
                                                                             channels=[16, 32, 32, 64]),
                                                  use_grn=True, layer_scale_init_value=0.0, linear_pw_conv=False,
                                                  out_indices=(3,)), (2, 3, 64, 64)),
    'mmseg-mit': ('mmseg', dict(type='MixVisionTransformer', embed_dims=16, num_layers=[1, 2, 1, 1],
                                num_heads=[1, 2, 2, 4], sr_ratios=[4, 2, 1, 1], out_indices=(0, 1, 2, 3),
                                drop_path_rate=0.2), (2, 3, 64, 64)),
    'mmaction-videomae': ('mmaction', dict(type='VisionTransformer', img_size=64, embed_dims=64, depth=4,
                                           num_heads=4, num_frames=4, drop_path_rate=0.2, init_values=0.1),
                          (1, 3, 4, 64, 64)),
}


def build(family):
    scope, cfg, shape = FAMILIES[family]
    init_default_scope(scope)
    torch.manual_seed(0)
    return MODELS.build(copy.deepcopy(cfg)), torch.randn(*shape, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_dr2net_identical_and_gradients_match(family):
    original, x = build(family)
    converted = dr2net_mm.to_dr2net(copy.deepcopy(original))
    for train in (True, False):
        original.train(train), converted.train(train)
        assert max(output_differences(original, converted, x, seed=4)) <= 1e-5
    converted.train()

    for alpha, beta in [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]:
        reference = dr2net_gradients(converted, x, 'autograd', alpha, beta)
        got = dr2net_gradients(converted, x, 'auto', alpha, beta)
        err = global_relative_error(got, reference)
        assert err <= 1e-3, (alpha, beta, err)


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_dtl_identity_at_init_and_side_network_learns(family):
    original, x = build(family)
    dtl = dr2net_mm.to_dtl(copy.deepcopy(original), rank=2, inject_from=3, dwconv_kernel=3)
    # The reference is the original as DTL runs it: frozen (torch picks other kernels when nothing
    # needs gradients) and with BatchNorm statistics frozen.
    for p in original.parameters():
        p.requires_grad_(False)
    for module in original.modules():
        if hasattr(module, 'norm_eval'):
            module.norm_eval = True
    for train in (True, False):
        original.train(train), dtl.train(train)
        assert max(output_differences(original, dtl, x, seed=4)) <= 1e-5
    dtl.train()
    with torch.no_grad():
        for name, p in dtl.named_parameters():
            if name.endswith('.up'):
                p.normal_(0, 0.1)
    sum((o * o).mean() for o in as_list(dtl(x)) if o.requires_grad).backward()
    side = [(n, p) for n, p in dtl.named_parameters() if n.startswith('dtl_side.')]
    assert side and all(p.grad is not None and p.grad.abs().sum() > 0 for _, p in side)
    assert all(p.grad is None for n, p in dtl.named_parameters() if not n.startswith('dtl_side.'))


def test_resnet_blocks_that_compute_something_else_are_refused():
    init_default_scope('mmdet')
    with pytest.raises(ValueError, match='Bottle2neck blocks compute something other'):
        dr2net_mm.to_dr2net(MODELS.build(dict(type='Res2Net', depth=50)))
    init_default_scope('mmaction')
    with pytest.raises(ValueError, match='non-local'):
        dr2net_mm.to_dr2net(MODELS.build(dict(type='ResNet3d', depth=50, pretrained=None, pretrained2d=False,
                                              non_local=((0, 0, 0), (1, 0, 1, 0), (0, 0, 0, 0, 0, 0), (0, 0, 0)),
                                              non_local_cfg=dict(sub_sample=True, use_scale=False))))


def test_dtl_and_dr2net_on_a_groupnorm_resnet():
    """mmdet's GroupNorm ResNets (e.g. the GN Mask R-CNN configs) convert with both methods."""
    init_default_scope('mmdet')
    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='ResNet', depth=18, norm_cfg=dict(type='GN', num_groups=8)))
    x = torch.randn(2, 3, 64, 64)
    dtl = dr2net_mm.to_dtl(copy.deepcopy(backbone), rank=2, inject_from=3)
    sum(o.square().mean() for o in dtl(x)).backward()
    assert all(p.grad is not None for p in dtl.dtl_side.parameters())
    converted = dr2net_mm.to_dr2net(copy.deepcopy(backbone))
    converted.train()
    reference = dr2net_gradients(converted, x, 'autograd', 0.0, 1.0)
    assert global_relative_error(dr2net_gradients(converted, x, 'auto', 0.0, 1.0), reference) <= 1e-5


def test_dtl_says_when_it_freezes_batchnorm_statistics():
    """DTL sets norm_eval=True (a frozen backbone keeps its statistics) and says so where it was False."""
    init_default_scope('mmaction')
    backbone = MODELS.build(dict(type='ResNet', depth=18, pretrained=None, norm_eval=False, partial_bn=True))
    with logged_messages() as messages:
        dr2net_mm.to_dtl(backbone, rank=2, inject_from=3)
    assert backbone.norm_eval is True
    assert any('norm_eval=False and partial_bn=True' in m and 'set to True' in m for m in messages), messages


def block_looping_resnet():
    """A ResNet subclass whose forward runs the blocks itself: its stages are never called."""
    from mmdet.models.backbones import ResNet

    class BlockLoopingResNet(ResNet):
        def forward(self, x):
            x = self.maxpool(self.relu(self.norm1(self.conv1(x))))
            outs = []
            for i, name in enumerate(self.res_layers):
                for block in getattr(self, name):      # the stage's own forward is never called
                    x = block(x)
                if i in self.out_indices:
                    outs.append(x)
            return tuple(outs)

    torch.manual_seed(0)
    return BlockLoopingResNet(depth=18)


def test_a_backbone_whose_forward_bypasses_its_stages_fails_loudly():
    """A subclass the ResNet adapter accepts but whose forward runs the blocks itself: without the
    check it would train unconverted while reporting a conversion."""
    from mmdet.models.backbones import ResNet

    x = torch.randn(1, 3, 64, 64)
    for convert in (dr2net_mm.to_dr2net, lambda b: dr2net_mm.to_dtl(b, rank=2, inject_from=3)):
        backbone = convert(block_looping_resnet())
        skipped = r"converted stages \['layer1', 'layer2', 'layer3', 'layer4'\] did not run"
        with pytest.raises(RuntimeError, match=skipped):
            backbone(x)
    backbone = dr2net_mm.to_dr2net(ResNet(depth=18))
    backbone(x)
    backbone(x)   # checked once, then free


def test_an_adapter_can_name_the_backbone_as_entry_of_its_stages(monkeypatch):
    """The same backbone adapted properly: the backbone is the entry and runs each stage by name
    (as the ViT and MiT adapters do); a wrong or missing stage name is an error, not a silent mix-up."""
    from dr2net_mm.adapters import resnet

    class LoopingResNetAdapter(resnet.ResNetAdapter):
        stage_name = staticmethod(lambda name: name)

        def entries(self, backbone):
            return [(backbone, tuple(name for name, _ in self.stages(backbone)))]

        def forward(self, backbone, run_units, x):
            x = backbone.maxpool(backbone.relu(backbone.norm1(backbone.conv1(x))))
            outs = []
            for i, name in enumerate(backbone.res_layers):
                named = functools.partial(run_units, stage=self.stage_name(name))
                x = super().forward(getattr(backbone, name), named, x)
                if i in backbone.out_indices:
                    outs.append(x)
            return tuple(outs)

    adapter = LoopingResNetAdapter()
    original = block_looping_resnet()
    monkeypatch.setattr('dr2net_mm.methods.rewire.find_adapter', lambda backbone: adapter)
    x = torch.randn(2, 3, 64, 64)

    converted = dr2net_mm.to_dr2net(copy.deepcopy(original))
    original.train(), converted.train()
    assert max(output_differences(original, converted, x, seed=4)) <= 1e-5
    dr2net_mm.set_coefficients(converted, 0.0, 1.0)
    converted(x)[-1].sum().backward()
    assert set(dr2net_mm.get_stats(converted)['segments']) == {'layer1', 'layer2', 'layer3', 'layer4'}

    adapter.stage_name = staticmethod(lambda name: None)
    with pytest.raises(ValueError, match=r"runs the stages \['layer1', .*pass stage=<name> to run_units"):
        dr2net_mm.to_dr2net(copy.deepcopy(original))(x)
    adapter.stage_name = staticmethod(lambda name: name.replace('layer', 'stage'))
    with pytest.raises(ValueError, match="ran units as stage 'stage1', which this module does not run"):
        dr2net_mm.to_dr2net(copy.deepcopy(original))(x)
    adapter.entries = lambda backbone: [(backbone, ('layer1', 'layer2'))]
    with pytest.raises(ValueError, match='every stage must be run by an entry'):
        dr2net_mm.to_dr2net(copy.deepcopy(original))


def test_resnet_transitions_are_recomputed_not_stored():
    """Downsampling bottlenecks store only their input under Dr²Net (as with_cp does); their gradients
    equal plain autograd's on the same network and their BatchNorm statistics are updated once."""
    from dr2net_mm.benchmark import SavedTensorMeter
    init_default_scope('mmdet')
    torch.manual_seed(0)
    converted = dr2net_mm.to_dr2net(MODELS.build(dict(type='ResNet', depth=50, norm_eval=False)), alpha=0.0, beta=1.0)
    reference = copy.deepcopy(converted)
    for m in dr2net_methods(reference):
        m.grad_mode = 'autograd'
    x = torch.randn(2, 3, 64, 64)
    saved = {}
    for name, model in (('reference', reference), ('converted', converted)):
        model.train()
        with SavedTensorMeter(exclude=model) as meter:
            loss = sum(o.square().mean() for o in model(x))
        saved[name] = meter.bytes
        loss.backward()
    for n, b in reference.named_buffers():
        if n.startswith(('layer2.0.', 'layer3.0.')):
            assert torch.allclose(b.float(), converted.get_buffer(n).float(), rtol=1e-5, atol=1e-6), n  # once, equally
    for n, p in reference.named_parameters():
        if n.startswith(('layer2.0.', 'layer3.0.', 'layer4.0.')):
            g = converted.get_parameter(n).grad
            assert (g - p.grad).norm() <= 1e-4 * p.grad.norm(), n
    assert saved['converted'] < saved['reference'] / 3   # plain autograd stores every activation


def test_vit_attention_branch_is_mmcvs_attention_with_one_packed_projection():
    """The packed projection and fused kernel compute mmcv's MultiheadAttention (same weights, same
    value and gradients to float rounding), with less kept for the backward than torch's module."""
    init_default_scope('mmseg')
    torch.manual_seed(0)
    layer = MODELS.build(dict(type='VisionTransformer', img_size=(64, 64), embed_dims=96, num_layers=1,
                              num_heads=4)).layers[0]
    layer.train()
    x = torch.randn(2, 257, 96)
    results, peaks = [], []
    for run in (lambda t: layer.attn(t, identity=torch.zeros_like(t)), mmcv_attention_branch(layer.attn)):
        layer.zero_grad(set_to_none=True)
        inp = x.clone().requires_grad_(True)
        with LiveTensorTracker() as tracker:
            out = run(layer.norm1(inp))
            out.backward(torch.ones_like(out))
        peaks.append(tracker.peak_bytes)
        results.append([out.detach(), inp.grad] + [p.grad.clone() for p in layer.attn.parameters()])
    for ours, mmcv in zip(results[1], results[0], strict=True):
        assert float((ours - mmcv).norm() / mmcv.norm()) <= 1e-6
    assert peaks[1] < peaks[0], peaks


def test_slowfast_blocks_are_numbered_in_the_order_the_layers_run():
    """DTL's M counts blocks in stage order: slow layer1, fast layer1, slow layer2, ... so that "from block
    M on" reaches the later layers of both pathways (M = 11: layers 3-4 of each, as the config says)."""
    from dr2net_mm.adapters import find_adapter
    backbone, _ = build('mmaction-slowfast-r50')
    adapter = find_adapter(backbone)
    names = [name for name, _ in adapter.stages(backbone)]
    assert names[:4] == ['slow_path.layer1', 'fast_path.layer1', 'slow_path.layer2', 'fast_path.layer2']
    dtl = dr2net_mm.to_dtl(backbone, rank=2, inject_from=11)
    assert sorted(n for n, _ in dtl.dtl_side.named_children()) == sorted(
        f'{path}_layer{i}' for path in ('slow_path', 'fast_path') for i in (3, 4))

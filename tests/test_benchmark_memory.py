"""The memory tracker reports known sizes exactly and counts frees; the saved-tensor meter skips weights."""
import pytest
import torch
from torch import nn

from dr2net_mm.benchmark import LiveTensorTracker, SavedTensorMeter
from dr2net_mm.benchmark.memory import group_allocations
from dr2net_mm.benchmark.step import relative_gradient_error, run_steps


def test_tracker_counts_allocations_and_frees_exactly():
    existing = torch.randn(1000)                      # allocated before: not counted
    with LiveTensorTracker() as tracker:
        a = torch.empty(1000, 1000)                   # 4,000,000 B
        b = torch.empty(500, 1000)                    # +2,000,000
        view = a.t()                                  # a view: no new storage
        a.add_(1.0)                                   # in place: no new storage
        del a, view                                   # -4,000,000 (the view kept it alive until now)
        c = torch.empty(2000, 1000)                   # +8,000,000 -> 10,000,000
        assert tracker.live_bytes == 10_000_000
        del b, c
        d = existing * 2                              # +4,000
    assert tracker.peak_bytes == 12_000_000 - 2_000_000
    assert tracker.live_bytes == d.nbytes == 4_000
    del d
    assert tracker.live_bytes == 0


def test_tracker_sees_backward_and_leaves_parameters_out():
    w = torch.randn(256, 256, requires_grad=True)
    with LiveTensorTracker() as tracker:
        h = torch.randn(64, 256)
        for _ in range(10):
            h = torch.tanh(h @ w)
        after_forward = tracker.live_bytes
        h.sum().backward()
        del h
    # the input and the 10 tanh outputs are saved; the pre-tanh products are freed at once
    assert after_forward == 11 * 64 * 256 * 4
    assert tracker.live_bytes == w.grad.nbytes        # only the new gradient survives the step
    assert tracker.peak_bytes > after_forward


def test_saved_meter_counts_activations_not_weights():
    layer = nn.Linear(128, 128)
    x = torch.randn(32, 128, requires_grad=True)
    with SavedTensorMeter(exclude=layer) as meter:
        layer(x).relu().sum()
    # linear saves its input (and its weight, excluded); relu saves its output
    assert meter.bytes == x.nbytes + 32 * 128 * 4


def test_run_steps_excludes_parameter_gradients_and_compares_gradients():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 64))
    x = torch.randn(8, 64)
    result = run_steps(model, lambda m: m(x).square().mean(), iters=1, warmup=0)
    params = sum(p.numel() * 4 for p in model.parameters())
    assert 0 < result.peak_bytes < params              # activations of 8 rows are far smaller
    assert result.saved_bytes > 0 and len(result.seconds) == 1
    again = run_steps(model, lambda m: m(x).square().mean(), iters=0, warmup=0, track=False)
    assert relative_gradient_error(again.grads, result.grads) == 0.0


def test_backbone_benchmark_rows_for_every_method():
    from mmengine.config import Config

    from dr2net_mm.benchmark.report import markdown_table
    from dr2net_mm.benchmark.run import benchmark_config

    from conftest import CONFIGS
    cfg = Config.fromfile(str(CONFIGS / 'detection/mask-rcnn_swin-nano_fpn_demo-shapes-dtl.py'))
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        benchmark_config(cfg, ['autograd', 'magic'], (1, 3, 64, 64), [(0.0, 1.0)], iters=1, warmup=0)
    rows = benchmark_config(cfg, ['autograd', 'with_cp', 'dr2net', 'dtl'], (1, 3, 64, 64),
                            [(1.0, 0.0), (0.0, 1.0)], iters=1, warmup=0)
    by = {(r['method'], r['beta']): r for r in rows}
    assert [r['status'] for r in rows] == ['ok'] * 5
    auto, cp = by[('autograd', None)], by[('with_cp', None)]
    assert auto['peak_vs_autograd'] == 1.0 and cp['peak_vs_with_cp'] == 1.0
    assert cp['peak_mib'] < auto['peak_mib'] and cp['grad_error'] < 1e-5
    reversible = by[('dr2net', 1.0)]
    assert reversible['grad_error'] < 1e-5 and reversible['saved_mib'] < auto['saved_mib']
    dtl = by[('dtl', None)]
    assert dtl['trainable_params'] < auto['trainable_params'] / 10 and dtl['grad_error'] is None
    assert '| dr2net | 0.00 | 1.00 |' in markdown_table(rows)


def test_amp_rows_run_under_autocast_and_compare_with_autograd_under_it():
    """``--amp``: every method's forward under autocast (bf16 on the CPU), each Dr²Net row against
    ordinary backprop of the same network under it; on the meta device there is nothing to autocast."""
    from mmengine.config import Config

    from dr2net_mm.benchmark.run import benchmark_config

    from conftest import CONFIGS
    cfg = Config.fromfile(str(CONFIGS / 'detection/mask-rcnn_swin-nano_fpn_demo-shapes-dtl.py'))
    with pytest.raises(ValueError, match='autocast'):
        benchmark_config(cfg, ['autograd'], (1, 3, 64, 64), [], device='meta', amp=True)
    fp32 = benchmark_config(cfg, ['autograd', 'with_cp', 'dr2net'], (2, 3, 64, 64), [(1.0, 0.0)], iters=0, warmup=0)
    bf16 = benchmark_config(cfg, ['autograd', 'with_cp', 'dr2net'], (2, 3, 64, 64), [(1.0, 0.0)], iters=0, warmup=0,
                            amp=True)
    assert [r['status'] for r in bf16] == ['ok'] * 3
    # Autocast changes what autograd saves (here more: the bf16 copies beside the fp32 tensors that
    # LayerNorm and softmax keep); with_cp recomputes exactly what it ran.
    assert bf16[0]['saved_mib'] != fp32[0]['saved_mib']
    assert bf16[1]['grad_error'] == 0.0
    # Dr²Net against Dr²Net's own autograd under bf16: rounding-sized, not bf16's distance from fp32.
    assert 0.0 < bf16[2]['grad_error'] < 1e-2 and fp32[2]['grad_error'] < 1e-5


WHOLE_MODELS = {
    'detection/mask-rcnn_swin-nano_fpn_demo-shapes-finetune.py': ((2, 3, 64, 96), 'loss_mask'),
    'segmentation/upernet_swin-nano_demo-shapes-finetune.py': ((2, 3, 64, 64), 'decode.loss_ce'),
    'recognition/swin3d-nano_demo-motion-finetune.py': ((2, 3, 8, 32, 32), 'loss_cls'),
    'classification/swin-nano_demo-shape-images-finetune.py': ((2, 3, 64, 64), 'loss'),
}


def test_a_classification_config_trains_at_its_images_size():
    """mmpretrain configs without a Resize (the demo's) train at the backbone's img_size."""
    from mmengine.config import Config

    from dr2net_mm.benchmark.shapes import config_input_shape

    from conftest import CONFIGS
    demo = Config.fromfile(str(CONFIGS / 'classification/swin-nano_demo-shape-images-dr2net.py'))
    assert config_input_shape(demo) == (8, 3, 64, 64)
    vtab = Config.fromfile(str(CONFIGS / 'classification/vit-b16_vtab-1k-cifar100_dtl.py'))
    assert config_input_shape(vtab) == (32, 3, 224, 224)


@pytest.mark.parametrize('config', sorted(WHOLE_MODELS))
def test_synthetic_batch_trains_the_whole_model(config):
    """Each codebase's model accepts the synthetic batch, every head computes its loss, and the
    gradient reaches the whole backbone."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    from dr2net_mm.benchmark.synthetic import ModelLoss, synthetic_batch

    from conftest import CONFIGS
    cfg = Config.fromfile(str(CONFIGS / config))
    shape, head_loss = WHOLE_MODELS[config]
    # drop-path can skip a block for both samples of the batch, leaving its parameters without a
    # gradient (it did for Mask R-CNN's last Swin block, depending on the tests run before)
    cfg.model.backbone.drop_path_rate = 0.0
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model).train()
    batch = synthetic_batch(cfg, shape)
    loss_fn = ModelLoss(model, batch)
    assert head_loss in model(**loss_fn.data, mode='loss')
    loss = loss_fn(model)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    without_gradient = [n for n, p in model.backbone.named_parameters()
                        if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    assert not without_gradient
    again = synthetic_batch(cfg, shape)
    # seeded: every method sees one batch
    assert all(torch.equal(a, b) for a, b in zip(batch['inputs'], again['inputs'], strict=True))


def test_whole_model_benchmark_compares_methods_on_the_same_batch():
    from mmengine.config import Config

    from dr2net_mm.benchmark.run import benchmark_config

    from conftest import CONFIGS
    cfg = Config.fromfile(str(CONFIGS / 'segmentation/upernet_swin-nano_demo-shapes-dtl.py'))
    rows = benchmark_config(cfg, ['autograd', 'dr2net', 'dtl'], (2, 3, 64, 64), [(0.0, 1.0)], iters=0, warmup=0,
                            whole_model=True)
    by = {r['method']: r for r in rows}
    assert all(r['status'] == 'ok' for r in rows)
    # The whole UperNet at 64 x 64 (train-mode BatchNorm on 2 x 2 maps) turns a 1e-7 relative change of
    # its input into 3e-4 in its gradients (measured): the pieced recompute's float rounding (outputs within
    # 2e-6 of autograd's) shows up at that scale. Backbone-level tests hold gradients to 1e-5.
    assert by['dr2net']['grad_error'] < 1e-3 and by['dtl']['trainable_params'] < by['autograd']['trainable_params']
    with pytest.raises(ValueError, match='N C H W'):
        benchmark_config(cfg, ['autograd'], (1, 3, 8, 64, 64), [(0.0, 1.0)], whole_model=True)


def test_tracker_says_what_is_alive_at_the_peak():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(64, 4096), nn.ReLU(), nn.Linear(4096, 64))
    x = torch.randn(256, 64)
    with LiveTensorTracker(record_peak=True) as tracker:
        mlp(x).sum().backward()
        del x
    alive = tracker.alive_at_peak()
    assert sum(a.nbytes for a in alive) == tracker.peak_bytes
    hidden = 256 * 4096 * 4
    # At the peak (the backward of the last linear): the saved ReLU output, its gradient being made
    # (256 x 4096) and the weight gradient (64 x 4096).
    relu = [a for a in alive if a.phase == 'forward' and a.op == 'aten.relu.default']
    assert [(a.nbytes, a.shape, a.module) for a in relu] == [(hidden, (256, 4096), 'Sequential.1')]
    groups = group_allocations(alive)
    assert groups[0] == dict(phase='backward', module='(AddmmBackward0)', op='aten.mm.default', mib=5.0, count=2,
                             shapes='float32[256, 4096], float32[64, 4096]')
    with LiveTensorTracker() as plain:
        pass
    with pytest.raises(RuntimeError, match='record_peak=True'):
        plain.alive_at_peak()


def test_with_cp_through_the_fused_kernel_is_an_exact_peer():
    """``with_cp_sdpa``: OpenMMLab's checkpointing with mmcv's attention through the fused kernel of
    Dr²Net's ViT units. The same gradients as autograd, a lower peak than mmcv's own attention (it
    materialises the attention matrices); refused, not faked, on a backbone without mmcv attention."""
    from mmengine.config import Config

    from dr2net_mm.benchmark.run import benchmark_config

    vit = dict(type='VisionTransformer', img_size=(64, 64), patch_size=8, embed_dims=64, num_layers=2,
               num_heads=4, out_indices=(1,))
    cfg = Config(dict(default_scope='mmseg', model=dict(backbone=vit)))
    rows = benchmark_config(cfg, ['autograd', 'with_cp', 'with_cp_sdpa'], (2, 3, 128, 128), [], iters=0, warmup=0)
    by = {r['method']: r for r in rows}
    assert all(r['status'] == 'ok' for r in rows), rows
    assert by['with_cp_sdpa']['grad_error'] < 1e-5
    assert by['with_cp_sdpa']['peak_mib'] < by['with_cp']['peak_mib']

    resnet = Config(dict(default_scope='mmdet', model=dict(backbone=dict(type='ResNet', depth=18))))
    (row,) = benchmark_config(resnet, ['with_cp_sdpa'], (1, 3, 32, 32), [], iters=0, warmup=0)
    assert row['status'].startswith('n/a') and 'MultiheadAttention' in row['status']


META_CASES = {
    'video-swin': ('recognition/swin3d-nano_demo-motion-dtl.py', {}, (1, 3, 8, 32, 32),
                   ['autograd', 'with_cp', 'dr2net', 'dtl']),
    # fused attention: the meta device takes the math kernel unless told the CPU's choice
    'vit': ('segmentation/upernet_vit-b16_mln_8xb2-160k_ade20k-512x512_dr2net.py',
            dict(img_size=(128, 128), embed_dims=64, num_layers=4, num_heads=4, out_indices=(1, 3)),
            (1, 3, 128, 128), ['autograd', 'with_cp', 'with_cp_sdpa', 'dr2net']),
}


@pytest.mark.parametrize('case', sorted(META_CASES))
def test_the_meta_device_measures_what_the_cpu_allocates(case):
    """Shapes without values: the same peak and saved bytes as on the CPU, every method, so sizes no
    real memory holds can be measured; the mmaction shift mask in its cache is counted each time."""
    from mmengine.config import Config

    from dr2net_mm.benchmark.run import benchmark_config
    from dr2net_mm.benchmark.variants import innermost_backbone_cfg

    from conftest import CONFIGS
    config, backbone, shape, methods = META_CASES[case]
    cfg = Config.fromfile(str(CONFIGS / config))
    innermost_backbone_cfg(cfg.model.backbone).update(backbone)
    rows = {device: benchmark_config(cfg, methods, shape, [(0.0, 1.0)], iters=0, warmup=1, device=device)
            for device in ('cpu', 'meta')}
    for cpu, meta in zip(rows['cpu'], rows['meta'], strict=True):
        assert meta['status'] == 'ok', meta
        assert (meta['peak_mib'], meta['saved_mib']) == (cpu['peak_mib'], cpu['saved_mib']), meta['method']
        assert meta['seconds'] is None and meta['grad_error'] is None
    again = benchmark_config(cfg, methods[1:2], shape, [(0.0, 1.0)], iters=0, warmup=1)
    assert again[0]['peak_mib'] == rows['cpu'][1]['peak_mib']
    with pytest.raises(ValueError, match='backbone alone'):
        benchmark_config(cfg, methods, shape, [(0.0, 1.0)], device='meta', whole_model=True)


def test_inference_peak_of_each_method():
    """An eval-mode forward without a graph: Dr²Net's attention a few windows at a time needs less
    than the unconverted backbone's; the same bytes on the meta device; whole models refused."""
    from mmengine.config import Config

    from dr2net_mm.benchmark.run import benchmark_config

    from conftest import CONFIGS
    cfg = Config.fromfile(str(CONFIGS / 'recognition/swin3d-nano_demo-motion-dtl.py'))
    shape = (1, 3, 16, 96, 96)
    rows = {device: benchmark_config(cfg, ['autograd', 'dr2net'], shape, [(0.0, 1.0)], device=device,
                                     inference=True) for device in ('cpu', 'meta')}
    auto, dr2net = rows['cpu']
    assert auto['status'] == dr2net['status'] == 'ok' and 0 < dr2net['peak_mib'] < auto['peak_mib']
    assert [r['peak_mib'] for r in rows['meta']] == [auto['peak_mib'], dr2net['peak_mib']]
    with pytest.raises(ValueError, match='backbone alone'):
        benchmark_config(cfg, ['autograd'], shape, [(0.0, 1.0)], whole_model=True, inference=True)

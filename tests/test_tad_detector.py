"""The temporal action detector: losses, learning a toy window, predictions, and Dr²Net on its backbone."""
import pytest
import torch
from mmengine.registry import MODELS, init_default_scope
from mmengine.structures import BaseDataElement

from dr2net_mm.methods.dr2net import dr2net_methods

BACKBONE = dict(type='SwinTransformer3D', arch=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]),
                window_size=(2, 4, 4), pretrained=None, pretrained2d=False)


def _detector(backbone=BACKBONE, **kwargs):
    init_default_scope('mmaction')
    torch.manual_seed(0)
    return MODELS.build(dict(type='dr2net_mm.TemporalActionDetector', backbone=backbone, num_classes=3,
                             in_channels=128, channels=16, levels=3, **kwargs))


def _sample(segments, labels, valid_length=16):
    sample = BaseDataElement(metainfo=dict(valid_length=valid_length))
    sample.gt_segments, sample.gt_labels = torch.tensor(segments), torch.tensor(labels)
    return sample


def test_losses_are_finite_and_reach_every_part():
    model = _detector()
    inputs = torch.randn(2, 3, 16, 32, 32)
    samples = [_sample([[2.0, 6.0], [9.0, 15.0]], [0, 2]), _sample([[0.0, 16.0]], [1], valid_length=12)]
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_reg'} and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name


def test_it_learns_a_window_and_predicts_its_actions():
    model = _detector()
    inputs = torch.randn(1, 3, 16, 32, 32)
    sample = _sample([[2.0, 6.0], [9.0, 15.0]], [0, 2])
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        losses = model(inputs, [sample], mode='loss')
        loss = sum(losses.values())
        first = float(loss) if first is None else first
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert float(loss) < 0.3 * first
    model.eval()
    with torch.no_grad():
        (out,) = model(inputs, [_sample([[2.0, 6.0], [9.0, 15.0]], [0, 2])], mode='predict')
    assert out.pred_segments.min() >= 0 and out.pred_segments.max() <= 16
    best = {int(label): seg.tolist() for seg, label in zip(out.pred_segments.flip(0), out.pred_labels.flip(0),
                                                          strict=True)}          # the highest score per class
    assert best[0] == pytest.approx([2.0, 6.0], abs=1.0) and best[2] == pytest.approx([9.0, 15.0], abs=1.5)


def test_dr2net_on_the_detector_backbone_gives_autograds_gradients():
    backbone = dict(type='dr2net_mm.Dr2Net', backbone=BACKBONE, alpha=0.0, beta=1.0)
    model = _detector(backbone)
    inputs = torch.randn(1, 3, 16, 32, 32)
    sample = _sample([[2.0, 6.0]], [1])
    assert dr2net_methods(model), 'the backbone was not converted'
    grads = {}
    for mode in ('autograd', 'auto'):
        for method in dr2net_methods(model):
            method.grad_mode = mode
        model.zero_grad()
        sum(model(inputs, [sample], mode='loss').values()).backward()
        grads[mode] = torch.cat([p.grad.flatten() for p in model.backbone.parameters()])
    assert float((grads['auto'] - grads['autograd']).norm() / grads['autograd'].norm()) < 1e-5

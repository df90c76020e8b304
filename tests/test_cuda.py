"""On a CUDA device: drop path's CUDA generator replayed, and fp16/bf16 autocast as GPUs train.

Skipped without CUDA (the development and CI machines have none): run ``pytest tests/test_cuda.py``
on a GPU machine. Measured on an H100: docs/results.md, ninth part.
"""
import pytest
import torch

import dr2net_mm

from conftest import dr2net_gradients, global_relative_error, random_output_loss, small_backbone

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')

FAMILIES = ['mmdet', 'mmaction', 'mmseg-vit', 'mmdet-resnet']
POINTS = [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]


def _on_cuda(family):
    backbone, x = small_backbone(family)
    model = dr2net_mm.to_dr2net(backbone).cuda()
    model.train()
    return model, x.cuda()


@pytest.mark.parametrize('family', FAMILIES)
def test_fp32_gradients_equal_autograd_with_drop_path_on_cuda(family):
    """Drop path draws its masks from the CUDA generator, so the recompute must replay its state
    (measured at most 5.6e-6 from ordinary backprop; ResNet's convolutions run in TF32 there)."""
    model, x = _on_cuda(family)
    loss = random_output_loss(model, x)
    for alpha, beta in POINTS:
        reference = dr2net_gradients(model, x, 'autograd', alpha, beta, loss=loss)
        for mode in ('checkpoint', 'auto'):
            err = global_relative_error(dr2net_gradients(model, x, mode, alpha, beta, loss=loss), reference)
            assert err <= 2e-5, (mode, alpha, beta, err)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=['fp16', 'bf16'])
@pytest.mark.parametrize('family', FAMILIES)
def test_autocast_gradients_as_precise_as_autograd_under_it(family, dtype):
    """Against the fp32 truth the recompute under autocast is as precise as ordinary backprop under
    the same autocast (measured equal to two digits everywhere). It is not the same computation:
    where roundings fall differs, by up to 9.6e-4 in fp16 and 7.9e-3 in bf16 (Swin at beta > 0),
    less than autocast's own distance from fp32 (1.4e-3 and 1.1e-2 there)."""
    model, x = _on_cuda(family)
    loss = random_output_loss(model, x)
    for alpha, beta in POINTS:
        truth = dr2net_gradients(model, x, 'autograd', alpha, beta, loss=loss)
        with torch.autocast('cuda', dtype=dtype):
            autograd = dr2net_gradients(model, x, 'autograd', alpha, beta, loss=loss)
            ours = dr2net_gradients(model, x, 'auto', alpha, beta, loss=loss)
        own = global_relative_error(autograd, truth)
        assert global_relative_error(ours, truth) <= 1.1 * own, (alpha, beta)
        assert global_relative_error(ours, autograd) <= own, (alpha, beta)

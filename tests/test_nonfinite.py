"""A non-finite loss stops training at its iteration, before a checkpoint with non-finite weights is
written; such a checkpoint is refused whenever it would be saved (a real mmengine Runner)."""
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import dr2net_mm  # noqa: F401  (registers the hooks)


class Regressor(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        return dict(loss=(out ** 2).mean()) if mode == 'loss' else out


class Samples(Dataset):
    """Eight samples; the one at ``bad`` (if any) holds a NaN."""

    def __init__(self, bad=None):
        self.bad = bad

    def __len__(self):
        return 8

    def __getitem__(self, i):
        x = torch.full((4,), float(i + 1))
        if i == self.bad:
            x[0] = float('nan')
        return dict(inputs=x)


def runner(tmp_path, bad=None, max_iters=6):
    return Runner(model=Regressor(), work_dir=str(tmp_path),
                  train_dataloader=dict(dataset=Samples(bad), sampler=dict(type='DefaultSampler', shuffle=False),
                                        batch_size=1, collate_fn=dict(type='default_collate'), num_workers=0),
                  train_cfg=dict(by_epoch=False, max_iters=max_iters),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=1e-3)),
                  default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False),
                                     logger=dict(type='LoggerHook', interval=1)),
                  custom_hooks=[dict(type='dr2net_mm.NonFiniteCheckHook')], default_scope='mmengine')


def test_a_nan_loss_stops_the_run_before_its_checkpoint(tmp_path):
    run = runner(tmp_path, bad=2)            # the third sample: iteration 3
    with pytest.raises(RuntimeError, match=r'iteration 3: non-finite loss \(loss=nan\).*before a checkpoint'):
        run.train()
    assert (tmp_path / 'iter_2.pth').exists() and not (tmp_path / 'iter_3.pth').exists()
    weights = torch.load(tmp_path / 'iter_2.pth', map_location='cpu', weights_only=False)['state_dict']
    assert all(torch.isfinite(t).all() for t in weights.values())


def test_non_finite_weights_are_never_saved(tmp_path):
    run = runner(tmp_path, max_iters=1)
    run.train()
    run.model.register_buffer('mask', torch.tensor([0.0, float('-inf')]))    # -inf by design: allowed
    run.save_checkpoint(str(tmp_path), 'with_mask.pth')
    with torch.no_grad():
        run.model.linear.weight[0, 1] = float('inf')
    with pytest.raises(RuntimeError, match=r'refusing to save a checkpoint whose weights are not finite '
                                           r'\(1 parameters: linear.weight\)'):
        run.save_checkpoint(str(tmp_path), 'broken.pth')
    assert not (tmp_path / 'broken.pth').exists()

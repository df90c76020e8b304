"""RngStateHook on a real mmengine Runner, epoch-based: a resume restores the generators' states once,
where the uninterrupted run stood; a finetuning that only loads a checkpoint (``load_from``) never does."""
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import dr2net_mm  # noqa: F401  (registers the hooks)
from dr2net_mm.engine.hooks import rng_state_hook

from conftest import logged_messages


class NoisyRegressor(BaseModel):
    """Its loss draws from torch's generator (as drop-path does)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs + torch.randn_like(inputs))
        return dict(loss=(out ** 2).mean()) if mode == 'loss' else out


class Samples(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return dict(inputs=torch.full((4,), float(i + 1)))


def runner(work_dir, max_epochs, load_from=None, resume=False):
    return Runner(model=NoisyRegressor(), work_dir=str(work_dir), load_from=load_from, resume=resume,
                  train_dataloader=dict(dataset=Samples(), sampler=dict(type='DefaultSampler', shuffle=True),
                                        batch_size=2, collate_fn=dict(type='default_collate'), num_workers=0),
                  train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=1e-2)),
                  default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
                  custom_hooks=[dict(type='dr2net_mm.RngStateHook')], randomness=dict(seed=0),
                  default_scope='mmengine')


def test_resume_restores_once_and_a_finetuning_never(tmp_path, monkeypatch):
    restored = []
    original = rng_state_hook.restore
    monkeypatch.setattr(rng_state_hook, 'restore', lambda state: (restored.append(1), original(state)))

    straight = runner(tmp_path / 'straight', max_epochs=3)
    straight.train()
    assert 'dr2net_rng_state' in torch.load(tmp_path / 'straight/epoch_1.pth', weights_only=False)
    assert restored == []

    finetune = runner(tmp_path / 'finetune', max_epochs=3, load_from=str(tmp_path / 'straight/epoch_3.pth'))
    with logged_messages(finetune.logger) as messages:
        finetune.train()
    assert restored == []                   # loading weights is not resuming: epochs 2 and 3 included
    assert messages and not any('random generator states' in m for m in messages)

    resumed = runner(tmp_path / 'resumed', max_epochs=3, load_from=str(tmp_path / 'straight/epoch_1.pth'),
                     resume=True)
    resumed.train()
    assert restored == [1]
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.allclose(a, b, rtol=0, atol=1e-7), name

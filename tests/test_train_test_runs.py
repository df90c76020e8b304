"""Each task's demo configs train briefly, publish, finetune, test and resume through our tools."""
import pytest

from conftest import CONFIGS
from dr2net_mm.launch import test as test_tool
from dr2net_mm.launch import train as train_tool
from dr2net_mm.launch.checkpoints import last_checkpoint, publish_checkpoint

NO_WORKERS = [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
              for key in ('num_workers=0', 'persistent_workers=False')]

TASKS = {
    'detection': ('detection/mask-rcnn_swin-nano_fpn_demo-shapes', 'coco/bbox_mAP',
                  lambda n: [f'train_cfg.max_epochs={n}', 'train_cfg.val_interval=1']),
    'segmentation': ('segmentation/upernet_swin-nano_demo-shapes', 'mIoU',
                     lambda n: [f'train_cfg.max_iters={2 * n}', 'train_cfg.val_interval=2',
                                'default_hooks.checkpoint.interval=2']),
    'recognition': ('recognition/swin3d-nano_demo-motion', 'acc/top1',
                    lambda n: [f'train_cfg.max_epochs={n}', 'train_cfg.val_interval=1']),
}


def _train(config, work_dir, schedule, *extra):
    return train_tool.main([str(config), '--work-dir', str(work_dir), *extra,
                            '--cfg-options', *NO_WORKERS, *schedule])


@pytest.mark.parametrize('task', sorted(TASKS))
def test_pretrain_finetune_test_resume(in_workspace, task):
    stem, metric, schedule = TASKS[task]
    pretrain, finetune = CONFIGS / f'{stem}-pretrain.py', CONFIGS / f'{stem}-finetune.py'

    runner = _train(pretrain, in_workspace / task / 'pretrain', schedule(1))
    assert runner.iter >= 2
    published = publish_checkpoint(last_checkpoint(runner.work_dir), in_workspace / task / 'zoo.pth')

    work_dir = in_workspace / task / 'finetune'
    runner = _train(finetune, work_dir, schedule(1) + [f'load_from={published}'])
    first_iters = runner.iter
    checkpoint = last_checkpoint(work_dir)
    assert checkpoint

    metrics = test_tool.main([str(finetune), checkpoint, '--work-dir', str(work_dir / 'test'),
                              '--cfg-options', *NO_WORKERS])
    assert metric in metrics and 0.0 <= metrics[metric] <= 100.0

    # An interrupted run resumes where it stopped instead of starting over.
    runner = _train(finetune, work_dir, schedule(2) + [f'load_from={published}'], '--resume')
    assert runner.iter == 2 * first_iters
    logs = sorted(work_dir.glob('2*/2*.log'))
    assert logs and 'resumed epoch' in logs[-1].read_text()


@pytest.mark.parametrize('method', ['dr2net', 'dtl'])
@pytest.mark.parametrize('task', sorted(TASKS))
def test_method_configs_train_two_iterations(in_workspace, task, method):
    """The Dr2Net and DTL finetuning configs train in each codebase (from scratch here: no download)."""
    stem, metric, _ = TASKS[task]
    config = CONFIGS / f'{stem}-{method}.py'
    schedule = (['train_cfg.max_iters=2', 'train_cfg.val_interval=2'] if task == 'segmentation' else
                ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1', 'train_dataloader.batch_size=6'])
    runner = _train(config, in_workspace / f'{task}-{method}', schedule + ['load_from=None'])
    assert runner.iter >= 2
    if method == 'dtl':
        optimized = {id(p) for g in runner.optim_wrapper.optimizer.param_groups for p in g['params']}
        assert optimized == {id(p) for p in runner.model.parameters() if p.requires_grad}

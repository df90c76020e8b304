"""Each task's demo configs train briefly, publish, finetune, test and resume through our tools."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from dr2net_mm.launch import test as test_tool
from dr2net_mm.launch import train as train_tool
from dr2net_mm.launch.checkpoints import last_checkpoint, publish_checkpoint
from dr2net_mm.launch.runner import build_runner
from dr2net_mm.launch.train import build_train_config, parse_args

from conftest import CONFIGS, NO_WORKERS

TASKS = {
    # batches of one: the few-shot finetuning split is three images at the tests' data scale
    'classification': ('classification/swin-nano_demo-shape-images', 'accuracy/top1',
                       lambda n: [f'train_cfg.max_epochs={n}', 'train_cfg.val_interval=1',
                                  'train_dataloader.batch_size=1']),
    'detection': ('detection/mask-rcnn_swin-nano_fpn_demo-shapes', 'coco/bbox_mAP',
                  lambda n: [f'train_cfg.max_epochs={n}', 'train_cfg.val_interval=1']),
    'segmentation': ('segmentation/upernet_swin-nano_demo-shapes', 'mIoU',
                     lambda n: [f'train_cfg.max_iters={2 * n}', 'train_cfg.val_interval=2',
                                'default_hooks.checkpoint.interval=2']),
    # batches of one: the few-shot finetuning split is two clips at the tests' data scale
    'recognition': ('recognition/swin3d-nano_demo-motion', 'acc/top1',
                    lambda n: [f'train_cfg.max_epochs={n}', 'train_cfg.val_interval=1',
                               'train_dataloader.batch_size=1']),
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
    few_shot = task in ('recognition', 'classification')   # 2 clips or 3 images at the tests' scale
    schedule = (['train_cfg.max_iters=2', 'train_cfg.val_interval=2'] if task == 'segmentation' else
                ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                 f'train_dataloader.batch_size={1 if few_shot else 6}'])
    runner = _train(config, in_workspace / f'{task}-{method}', schedule + ['load_from=None'])
    assert runner.iter >= 2
    if method == 'dtl':
        optimized = {id(p) for g in runner.optim_wrapper.optimizer.param_groups for p in g['params']}
        assert optimized == {id(p) for p in runner.model.parameters() if p.requires_grad}


class BackboneAtFirstIteration(Hook):
    """Keeps a copy of the backbone's parameters as the first training iteration sees them."""

    def __init__(self):
        self.params = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.params is None:
            backbone = runner.model.backbone
            self.params = {k: v.detach().clone() for k, v in backbone.named_parameters()}


def _publish_initial_weights(config, path):
    """A stand-in for a pretraining run: the pretraining model's own initial weights, published."""
    runner = Runner.from_cfg(build_train_config(parse_args([str(config), '--work-dir', str(path.parent / 'p')])))
    runner.model.init_weights()
    torch.save(dict(state_dict=runner.model.state_dict(), meta={}), path)
    return path


@pytest.mark.parametrize('task', sorted(TASKS))
def test_finetuning_starts_from_the_published_checkpoint_with_resume_auto(in_workspace, task):
    """``--resume auto`` in a fresh work dir loads ``load_from`` (the demo's path): every method's
    backbone at iteration 0 equals the published pretraining checkpoint, and the run says so."""
    stem, _, _ = TASKS[task]
    published = _publish_initial_weights(CONFIGS / f'{stem}-pretrain.py', in_workspace / task / 'published.pth')
    expected = {k[len('backbone.'):]: v for k, v in torch.load(published)['state_dict'].items()
                if k.startswith('backbone.')}
    schedule = (['train_cfg.max_iters=1', 'train_cfg.val_interval=1'] if task == 'segmentation' else
                ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1'])
    for method in ('finetune', 'dr2net', 'dtl'):
        work_dir = in_workspace / task / f'resume-auto-{method}'   # fresh: no other test's checkpoints
        cfg = build_train_config(parse_args([
            str(CONFIGS / f'{stem}-{method}.py'), '--work-dir', str(work_dir), '--resume', 'auto',
            '--cfg-options', *NO_WORKERS, *schedule, f'load_from={published}']))
        assert cfg.resume is False and cfg.load_from == str(published)
        runner = build_runner(cfg)
        snapshot = BackboneAtFirstIteration()
        runner.register_hook(snapshot)
        runner.train()
        own = {k: v for k, v in snapshot.params.items() if not k.startswith('dtl_side.')}
        assert own and set(own) <= set(expected), method  # the checkpoint also holds buffers
        for name, value in own.items():
            assert torch.equal(value, expected[name]), f'{method}: {name} differs from the published checkpoint'
        log = next(work_dir.glob('2*/2*.log')).read_text()
        assert f'{len(own)} of {len(own)} backbone parameters loaded from {published}' in log, method


def test_a_checkpoint_that_does_not_fit_the_backbone_stops_the_run(in_workspace):
    """mmengine only warns about unmatched keys; a finetuning run that would silently train from
    scratch must stop and name the file (here: a ResNet checkpoint into Video Swin)."""
    wrong = in_workspace / 'resnet18.pth'
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(64, 3, 7, 7),
                                'backbone.layer1.0.conv1.weight': torch.zeros(64, 64, 3, 3)}), wrong)
    stem, _, _ = TASKS['recognition']
    args = [str(CONFIGS / f'{stem}-finetune.py'), '--work-dir', str(in_workspace / 'wrong'),
            '--cfg-options', *NO_WORKERS, 'train_cfg.max_epochs=1', f'load_from={wrong}']
    with pytest.raises(RuntimeError, match=rf'0 of \d+ backbone parameters loaded from {wrong}.*min_loaded=0.0'):
        train_tool.main(args)

    # The documented opt-out: the config configures the hook itself.
    cfg = build_train_config(parse_args(args))
    cfg.custom_hooks = [dict(type='dr2net_mm.PretrainedLoadCheckHook', min_loaded=0.0)]
    assert build_runner(cfg).train() is not None

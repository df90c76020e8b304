"""Every config parses and builds its model in its own codebase."""
import pytest
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from dr2net_mm.launch.codebases import codebase_of
from dr2net_mm.methods.dr2net import dr2net_methods

from conftest import CONFIGS, all_configs, config_id


@pytest.mark.parametrize('path', all_configs(), ids=config_id)
def test_config_builds_model(path):
    cfg = Config.fromfile(str(path))
    codebase_of(cfg)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    # the backbone the config names was built, converted where the config says so
    backbone_cfg = cfg.model.backbone
    wrapper = backbone_cfg.get('type')
    inner = backbone_cfg.get('backbone', backbone_cfg)
    assert type(model.backbone).__name__ == inner['type'].split('.')[-1]
    assert (wrapper == 'dr2net_mm.Dr2Net') == bool(dr2net_methods(model))
    assert (wrapper == 'dr2net_mm.DTL') == hasattr(model.backbone, 'dtl_side')
    if wrapper == 'dr2net_mm.DTL':   # frozen backbone: only the side network trains in it
        trainable = {n.split('.')[0] for n, p in model.backbone.named_parameters() if p.requires_grad}
        assert trainable == {'dtl_side'}


def test_there_is_a_pretrain_and_finetune_config_per_task():
    names = [config_id(p) for p in all_configs()]
    for task in ('classification', 'detection', 'segmentation', 'recognition'):
        assert any(n.startswith(task) and n.endswith('-pretrain.py') for n in names)
        assert any(n.startswith(task) and n.endswith('-finetune.py') for n in names)
    # temporal action detection finetunes the recognition demo's pretraining checkpoint
    tad = Config.fromfile(str(CONFIGS / 'tad' / 'swin3d-nano_demo-untrimmed-finetune.py'))
    assert tad.load_from == 'checkpoints/demo/swin3d-nano_demo-motion-pretrain.pth'
    for method in ('with-cp', 'dr2net', 'dtl'):
        assert f'tad/swin3d-nano_demo-untrimmed-{method}.py' in names

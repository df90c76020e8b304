"""Every config parses and builds its model in its own codebase."""
import pytest
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from dr2net_mm.launch.codebases import codebase_of

from conftest import all_configs, config_id


@pytest.mark.parametrize('path', all_configs(), ids=config_id)
def test_config_builds_model(path):
    cfg = Config.fromfile(str(path))
    codebase_of(cfg)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_there_is_a_pretrain_and_finetune_config_per_task():
    names = [config_id(p) for p in all_configs()]
    for task in ('detection', 'segmentation', 'recognition'):
        assert any(n.startswith(task) and n.endswith('-pretrain.py') for n in names)
        assert any(n.startswith(task) and n.endswith('-finetune.py') for n in names)

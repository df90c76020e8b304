"""The compatibility fixes work, and each is still needed by the pinned stack."""
import importlib
import importlib.machinery
import pickle
import sys

import cv2
import numpy as np
import pytest
import torch

from dr2net_mm.compat import mmaction_drn, numpy_aliases


@pytest.mark.filterwarnings('ignore:`(trapz|in1d)` is deprecated:DeprecationWarning')   # the names under test
def test_numpy_aliases_map_to_numpy2_replacements():
    numpy_aliases.restore_numpy_aliases()
    assert np.Inf == np.inf and np.isnan(np.NAN)
    assert np.trapz([1.0, 2.0, 3.0]) == pytest.approx(4.0)
    # in1d flattens, unlike isin
    assert np.in1d([[1, 2], [3, 4]], [2, 3]).tolist() == [False, True, True, False]
    assert np.float is float


def test_numpy_aliases_are_idempotent_and_only_fill_gaps(monkeypatch):
    numpy_aliases.restore_numpy_aliases()
    assert numpy_aliases.restore_numpy_aliases() == []              # nothing left to add
    monkeypatch.delattr(np, 'Inf')
    sentinel = object()
    monkeypatch.setattr(np, 'trapz', sentinel, raising=False)       # a name numpy (still) has
    assert numpy_aliases.restore_numpy_aliases() == ['Inf']
    assert np.trapz is sentinel                                     # never overwritten


def test_mmaction_models_import_and_drn_explains_itself():
    import mmaction.models  # noqa: F401  (fails on the PyPI release without the fix)
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')   # other tests may have left another codebase's scope current
    module = importlib.import_module(mmaction_drn.MODULE)
    assert getattr(module, '__dr2net_mm_placeholder__', False)
    with pytest.raises(ImportError, match='missing from the mmaction2 1.2.0 PyPI release'):
        MODELS.build(dict(type='DRN'))


def test_drn_finder_yields_to_a_real_module():
    finder = mmaction_drn._DrnFinder()
    assert finder.find_spec('mmaction.models.localizers.bmn') is None
    # after the standard path finder on sys.meta_path: a real drn package (a source install) wins
    ours = [i for i, f in enumerate(sys.meta_path) if isinstance(f, mmaction_drn._DrnFinder)]
    path_finder = sys.meta_path.index(importlib.machinery.PathFinder)
    assert len(ours) == 1 and ours[0] > path_finder


def test_resume_checkpoint_with_message_hub_loads(tmp_path):
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader
    buffer = HistoryBuffer()
    buffer.update(1.5)
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict={'w': torch.ones(2)}, message_hub=dict(log_scalars={'loss': buffer})), path)
    if 'weights_only' in torch.load.__doc__:
        with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
            torch.load(path)  # torch >= 2.6 default: the reason the fix exists
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert loaded['message_hub']['log_scalars']['loss'].current() == 1.5
    with pytest.raises(FileNotFoundError):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'missing.pth'))


def test_color_jitter_shifts_hue_both_ways_under_numpy2():
    """mmaction2's ColorJitter overflowed uint8 on a negative hue shift; patched on import."""
    from mmaction.datasets.transforms.processing import ColorJitter

    from dr2net_mm.compat import mmaction_color_jitter
    assert ColorJitter.adjust_hue is mmaction_color_jitter.adjust_hue
    img = np.full((2, 2, 3), (200, 40, 40), np.float32)     # red: OpenCV hue 0
    shifted = ColorJitter.adjust_hue(img, -0.1)            # hue 0 - 25 wraps to 155 (magenta)
    hue = cv2.cvtColor(shifted.astype(np.uint8), cv2.COLOR_RGB2HSV)[0, 0, 0]
    assert abs(int(hue) - 155) <= 1
    assert np.allclose(ColorJitter.adjust_hue(img, 0.0), img, atol=3)
    sample = dict(imgs=[np.random.RandomState(0).randint(0, 256, (8, 8, 3)).astype(np.uint8)] * 2,
                  modality='RGB')
    np.random.seed(1)
    for _ in range(20):                                    # both signs of the random hue shift
        assert ColorJitter(hue=0.5)(dict(sample))['imgs'][0].shape == (8, 8, 3)


def test_torchvision_imports_without_its_extension_and_its_ops_fail_loudly():
    """PyPI's torchvision for torch 2.13.0 (a CUDA build) beside the CPU torch: without the fix its
    import fails in a fresh interpreter; with it, torchvision and mmpretrain import, transforms run,
    and nms raises torchvision's own "Couldn't load custom C++ ops"."""
    import subprocess
    bare = subprocess.run([sys.executable, '-c', 'import torchvision'], capture_output=True, text=True)
    import torchvision
    if torchvision.extension._has_ops():
        pytest.skip('this torchvision matches the torch: its extension loads and the fix does nothing')
    assert bare.returncode != 0 and 'torchvision::nms does not exist' in bare.stderr
    import mmpretrain.models  # noqa: F401
    from torchvision.transforms import functional
    assert functional.hflip(torch.arange(6.0).view(1, 2, 3))[0, 0].tolist() == [2.0, 1.0, 0.0]
    with pytest.raises(RuntimeError, match="Couldn't load custom C\\+\\+ ops"):
        torchvision.ops.nms(torch.rand(3, 4), torch.rand(3), 0.5)


def test_pytorchvideo_randaugment_runs_through_mmaction_wrapper():
    """The official MViT configs' ``PytorchVideoWrapper(op='RandAugment')``: pytorchvideo 0.1.5 imports
    ``torchvision.transforms.functional_tensor``, renamed in torchvision 0.17."""
    from mmaction.registry import TRANSFORMS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    wrapper = TRANSFORMS.build(dict(type='PytorchVideoWrapper', op='RandAugment', magnitude=7, num_layers=4))
    frames = [np.random.RandomState(i).randint(0, 256, (32, 40, 3), dtype=np.uint8) for i in range(4)]
    out = wrapper(dict(imgs=frames))
    assert len(out['imgs']) == 4 and out['imgs'][0].shape == (32, 40, 3)
    from torchvision.transforms import _functional_tensor
    assert _functional_tensor.__spec__.name.endswith('_functional_tensor')   # the renamed module untouched

"""``torchvision.transforms.functional_tensor`` for pytorchvideo 0.1.5.

torchvision 0.17 renamed ``transforms.functional_tensor`` to ``transforms._functional_tensor``.
pytorchvideo 0.1.5, its last release, still imports the old name (``pytorchvideo/transforms/
augmentations.py``), and mmaction2's ``PytorchVideoWrapper`` imports pytorchvideo for the
``RandAugment`` of every official MViT config. We append an import finder (last on ``sys.meta_path``,
so a torchvision that still has the module wins) that answers the old name with a module holding
the new one's names.
"""
import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Optional, Sequence

OLD = 'torchvision.transforms.functional_tensor'
NEW = 'torchvision.transforms._functional_tensor'


class _RenamedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target=None):
        if fullname != OLD or importlib.util.find_spec(NEW) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec) -> None:
        return None   # a new module object, which re-exports the renamed one's names

    def exec_module(self, module: types.ModuleType) -> None:
        renamed = importlib.import_module(NEW)
        module.__dict__.update({k: v for k, v in vars(renamed).items() if not k.startswith('__')})


def alias_torchvision_functional_tensor() -> None:
    """Append the finder once."""
    if not any(isinstance(f, _RenamedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_RenamedModuleFinder())

"""mmaction2 1.2.0 on PyPI lacks ``mmaction/models/localizers/drn/`` (upstream issue #2714).

``mmaction/models/localizers/__init__.py`` imports ``.drn.drn.DRN``, so ``import mmaction.models``
fails. We append an import finder (last on ``sys.meta_path``, so a real ``drn`` package, e.g. from
a source install, always wins) that supplies the two missing modules. Their ``DRN`` is registered in
mmaction2's model registry and raises a clear error when built: the localizer itself is not
available from the PyPI release, everything else in mmaction2 imports and works.
"""
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Optional, Sequence

PACKAGE = 'mmaction.models.localizers.drn'
MODULE = PACKAGE + '.drn'

MISSING_MESSAGE = (
    'The DRN temporal localizer is missing from the mmaction2 1.2.0 PyPI release '
    '(mmaction/models/localizers/drn, upstream issue #2714); dr2net-mm only makes the rest of '
    'mmaction2 importable. To use DRN, install mmaction2 from its git source.')


class DRN:
    """Stands in for mmaction2's DRN localizer; building it explains what is missing."""

    def __init__(self, *args, **kwargs):
        raise ImportError(MISSING_MESSAGE)


class _DrnFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Supplies ``drn`` and ``drn.drn`` only when no real module was found before it."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target=None):
        if fullname == PACKAGE:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        if fullname == MODULE:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=False)
        return None

    def create_module(self, spec) -> types.ModuleType:
        module = types.ModuleType(spec.name, MISSING_MESSAGE)
        if spec.submodule_search_locations is not None:
            module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dr2net_mm_placeholder__ = True
        if module.__name__ == MODULE:
            from mmaction.registry import MODELS
            module.DRN = DRN
            if 'DRN' not in MODELS.module_dict:
                MODELS.register_module(name='DRN', module=DRN)


def install_drn_placeholder() -> None:
    """Append the finder once."""
    if not any(isinstance(f, _DrnFinder) for f in sys.meta_path):
        sys.meta_path.append(_DrnFinder())

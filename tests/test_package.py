import mmengine.registry as root_registry

import dr2net_mm
from dr2net_mm import registry


def test_version_and_registries_are_children_of_mmengine_roots():
    assert dr2net_mm.__version__
    assert registry.MODELS.parent is root_registry.MODELS
    assert registry.HOOKS.parent is root_registry.HOOKS
    assert registry.MODELS.scope == registry.HOOKS.scope == 'dr2net_mm'
    assert 'dr2net_mm' in root_registry.MODELS.children
    assert 'dr2net_mm' in root_registry.HOOKS.children


def test_registry_locations_import():
    registry.MODELS.import_from_location()
    registry.HOOKS.import_from_location()

"""Small, documented fixes for known breakages of the pinned upstream stack.

Each fix lives in its own module, says why it exists, changes nothing on disk and is a no-op where
upstream is already fixed. ``apply_all()`` runs on ``import dr2net_mm`` (our tools and configs import
it first), so the fixes are active before any OpenMMLab codebase is imported.
"""
from .mmaction_color_jitter import fix_color_jitter_hue
from .mmaction_drn import install_drn_placeholder
from .mmengine_checkpoint import allow_full_checkpoint_load
from .numpy_aliases import restore_numpy_aliases
from .torchvision_checkpoints import allow_torchvision_checkpoints_without_torchvision
from .torchvision_functional_tensor import alias_torchvision_functional_tensor
from .torchvision_ops import declare_torchvision_ops_without_extension

__all__ = ['apply_all', 'install_drn_placeholder', 'allow_full_checkpoint_load', 'restore_numpy_aliases',
           'allow_torchvision_checkpoints_without_torchvision', 'fix_color_jitter_hue',
           'declare_torchvision_ops_without_extension', 'alias_torchvision_functional_tensor']


def apply_all() -> None:
    """Apply every compatibility fix (idempotent)."""
    declare_torchvision_ops_without_extension()   # first: anything below may import torchvision
    restore_numpy_aliases()
    allow_full_checkpoint_load()
    install_drn_placeholder()
    allow_torchvision_checkpoints_without_torchvision()
    fix_color_jitter_hue()
    alias_torchvision_functional_tensor()

"""dr2net-mm: memory-efficient finetuning of pretrained OpenMMLab backbones."""
from . import compat

compat.apply_all()

__version__ = '0.1.0'

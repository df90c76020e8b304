"""A LogProcessor that prints tiny quantities in scientific notation.

mmengine prints every logged float with four decimals, so a reconstruction error of 1e-6 reads
``dr2net_recon_error: 0.0000``. Only the text line changes; ``scalars.json`` and TensorBoard keep
the full values. ``tools/train.py`` uses it when a config keeps mmengine's default processor; in
a config: ``log_processor = dict(type='dr2net_mm.LogProcessor', window_size=10)``.
"""
import re
from typing import Tuple

from mmengine.runner import LogProcessor as MMEngineLogProcessor

from ..registry import LOG_PROCESSORS

SCIENTIFIC = ('dr2net_recon_error',)


@LOG_PROCESSORS.register_module(name='LogProcessor')
class ScientificLogProcessor(MMEngineLogProcessor):

    def get_log_after_iter(self, runner, batch_idx: int, mode: str) -> Tuple[dict, str]:
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        for key, value in tag.items():
            name = key.rsplit('/', 1)[-1]
            if name in SCIENTIFIC and isinstance(value, float):
                log_str = re.sub(rf'\b{name}: \S+', f'{name}: {value:.{max(self.num_digits - 2, 1)}e}', log_str)
        return tag, log_str

"""DynamicCoeffHook: move Dr²Net's alpha and beta along a schedule during finetuning.

    custom_hooks = [dict(type='dr2net_mm.DynamicCoeffHook',
                         alpha=dict(policy='cosine', start=1.0, end=0.0),
                         beta=dict(policy='cosine', start=0.0, end=1.0),
                         begin=0, end=2000, by_epoch=False)]

Without ``end`` the move spans the first 60 % of the training (``DEFAULT_SPAN``: the README's default
schedule), after which the coefficients stay at their end values.

The values are a pure function of the training progress, so a resumed run follows the same
trajectory as an uninterrupted one. The coefficients in force are saved in the checkpoint meta and
restored on load, so ``tools/test.py`` evaluates the model at the coefficients it was trained to.
Logged every iteration: ``dr2net_alpha``, ``dr2net_beta``, ``dr2net_chunk_length`` (units
reconstructed in a row) and ``dr2net_recon_error`` (measured at stored stream boundaries).
"""
from typing import Dict, Optional, Union

from mmengine.hooks import Hook

from ...methods.dr2net import dr2net_methods, dr2net_summary, get_coefficients, set_coefficients
from ...registry import HOOKS
from .coeff_schedule import CoeffSchedule
from .runner_model import runner_model

META_KEY = 'dr2net'
DEFAULT_SPAN = 0.6   # fraction of the training over which alpha, beta move when ``end`` is not given


@HOOKS.register_module()
class DynamicCoeffHook(Hook):
    priority = 'NORMAL'

    def __init__(self, alpha: Union[float, Dict, None] = None, beta: Union[float, Dict, None] = None,
                 begin: float = 0, end: Optional[float] = None, by_epoch: bool = False):
        # Defaults: the documented schedule, from the pretrained network to the reversible one.
        self.alpha = CoeffSchedule(dict(policy='cosine', start=1.0, end=0.0) if alpha is None else alpha, 'alpha')
        self.beta = CoeffSchedule(dict(policy='cosine', start=0.0, end=1.0) if beta is None else beta, 'beta')
        if end is not None and end <= begin:
            raise ValueError(f'DynamicCoeffHook end ({end}) must be after begin ({begin})')
        if begin < 0:
            raise ValueError(f'DynamicCoeffHook begin must be >= 0, got {begin}')
        self.begin, self.end, self.by_epoch = begin, end, by_epoch

    def span_end(self, length: float) -> float:
        """Where the move ends for a training of ``length`` epochs or iterations (``by_epoch``)."""
        if self.end is not None:
            return self.end
        end = DEFAULT_SPAN * length
        if end <= self.begin:
            raise ValueError(f'DynamicCoeffHook without end moves alpha, beta over the first {DEFAULT_SPAN:.0%} of '
                             f'the training ({end:g} of {length:g}), which ends before begin={self.begin:g}; set end')
        return end

    def _span_end(self, runner) -> float:
        return self.span_end(runner.max_epochs if self.by_epoch else runner.max_iters)

    def coefficients_at(self, progress: float, end: float):
        t = (progress - self.begin) / max(end - self.begin, 1e-12)
        elapsed = progress - self.begin
        return self.alpha(t, elapsed), self.beta(t, elapsed)

    def _progress(self, runner, batch_idx: int = 0) -> float:
        if self.by_epoch:
            return runner.epoch + batch_idx / max(len(runner.train_dataloader), 1)
        return runner.iter

    def before_run(self, runner) -> None:
        methods = dr2net_methods(runner_model(runner))
        if not methods:
            raise ValueError('DynamicCoeffHook needs a Dr2Net backbone: set model.backbone to '
                             "dict(type='dr2net_mm.Dr2Net', backbone=dict(...))")
        if any(m.grad_mode == 'reversible' for m in methods) and min(self.beta.key_values()) <= 0:
            raise ValueError("the beta schedule reaches 0, which grad_mode='reversible' cannot invert; "
                             "use grad_mode='auto' (the default) or keep beta > 0")

    def before_train(self, runner) -> None:
        self._span_end(runner)   # fails here, not mid-training, when the default span ends before begin
        self._warn_if_unreachable(runner)
        self._apply(runner, self._progress(runner))

    def _warn_if_unreachable(self, runner) -> None:
        """An ``end`` past the training length leaves the coefficients short of their end values."""
        length = runner.max_epochs if self.by_epoch else runner.max_iters
        if self.end is None or self.end <= length:
            return
        alpha, beta = self.coefficients_at(length, self.end)
        unit = 'epochs' if self.by_epoch else 'iterations'
        runner.logger.warning(
            f'DynamicCoeffHook: end={self.end:g} {unit} lies beyond the training length ({length} {unit}); '
            f'alpha, beta will stop at ({alpha:.3g}, {beta:.3g}) instead of reaching '
            f'({self.alpha(1.0, self.end):.3g}, {self.beta(1.0, self.end):.3g}). Set end <= {length} '
            f'(by_epoch={self.by_epoch}) to reach them.')

    def before_val(self, runner) -> None:
        self._log_evaluated_at(runner, 'validating')

    def before_test(self, runner) -> None:
        self._log_evaluated_at(runner, 'testing')

    def _log_evaluated_at(self, runner, what: str) -> None:
        alpha, beta = get_coefficients(runner_model(runner))
        runner.logger.info(f'Dr2Net: {what} at alpha={alpha:.4g}, beta={beta:.4g}')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._apply(runner, self._progress(runner, batch_idx))

    def _apply(self, runner, progress: float) -> None:
        alpha, beta = self.coefficients_at(progress, self._span_end(runner))
        set_coefficients(runner_model(runner), alpha, beta)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = runner_model(runner)
        alpha, beta = get_coefficients(model)
        summary = dr2net_summary(model)
        hub = runner.message_hub
        hub.update_scalar('train/dr2net_alpha', alpha)
        hub.update_scalar('train/dr2net_beta', beta)
        hub.update_scalar('train/dr2net_chunk_length', float(summary['chunk_length']))
        hub.update_scalar('train/dr2net_recon_error', float(summary['recon_error']))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        alpha, beta = get_coefficients(runner_model(runner))
        checkpoint.setdefault('meta', {})[META_KEY] = dict(alpha=alpha, beta=beta)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('meta', {}).get(META_KEY)
        if saved is not None:
            set_coefficients(runner_model(runner), saved['alpha'], saved['beta'])
            runner.logger.info(f'Dr2Net: alpha={saved["alpha"]:.4g}, beta={saved["beta"]:.4g} '
                               'restored from the checkpoint')

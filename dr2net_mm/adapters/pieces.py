"""Pieces shared by the families (``reversible.pieces``): token-wise branches, the dropout check and
whether samples are independent."""
from typing import Callable

from torch import Tensor, nn

from ..reversible import Pieces, train_batchnorms


def dropout_active(*modules: nn.Module) -> bool:
    """Whether any dropout inside ``modules`` draws a mask now (pieces would draw other masks)."""
    return any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 and m.training
               for root in modules for m in root.modules())


def samples_independent(*modules: nn.Module) -> bool:
    """Whether ``modules`` treat each sample alone now: no train-mode BatchNorm (its statistics mix the
    batch) and no active dropout (a smaller batch would draw other masks)."""
    return not dropout_active(*modules) and next(train_batchnorms(modules), None) is None


def token_pieces(per_token: Callable[[Tensor], Tensor], drop_path: Callable[[Tensor], Tensor],
                 hidden_ratio: float, core_modules: nn.Module) -> Pieces:
    """A branch ``drop_path(per_token(x))`` over ``(B, ..., C)`` tokens whose ``per_token`` (LayerNorm,
    MLP, layer scale) acts on each token alone, computed a few tokens at a time."""
    return Pieces(split=lambda x: x.reshape(x.shape[0], -1, x.shape[-1]),
                  core=lambda tokens, start, end: per_token(tokens),
                  merge=lambda out, x: drop_path(out.view(x.shape)),
                  expansion=3 * hidden_ratio + 2,
                  active=lambda: not dropout_active(core_modules))

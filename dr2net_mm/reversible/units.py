"""A residual unit as the engine sees it: a branch F, the modules that own its state, a ``post`` op."""
from dataclasses import dataclass, field
from typing import Callable, List, Sequence, Union

from torch import Tensor, nn


def identity(x: Tensor) -> Tensor:
    return x


@dataclass
class Unit:
    """One residual branch of a pretrained net: the unit computes ``post(alpha * x + branch(x))``.

    ``branch`` has its per-call context (window shapes, masks) already bound. ``modules`` (modules or
    bare parameters such as layer-scale gammas) own every parameter and buffer the branch uses: their
    trainable parameters receive gradients, their BatchNorms are guarded during the recompute.
    ``post`` is the identity for transformers and the ReLU after the addition for ResNets.
    """

    branch: Callable[[Tensor], Tensor]
    modules: Sequence[Union[nn.Module, nn.Parameter]]
    post: Callable[[Tensor], Tensor] = identity
    block_end: bool = True      # last unit of a residual block (DTL works per block, Dr²Net per unit)
    _params: List[nn.Parameter] = field(default=None, init=False, repr=False)

    def __call__(self, x: Tensor, alpha: float) -> Tensor:
        return self.post(alpha * x + self.branch(x))

    @property
    def trainable_parameters(self) -> List[nn.Parameter]:
        if self._params is None:
            seen, params = set(), []
            for module in self.modules:
                for p in ([module] if isinstance(module, nn.Parameter) else module.parameters()):
                    if p.requires_grad and id(p) not in seen:
                        seen.add(id(p))
                        params.append(p)
            self._params = params
        return self._params

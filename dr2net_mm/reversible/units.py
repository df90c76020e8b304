"""A residual unit as the engine sees it: a branch F, the modules that own its state, a ``post`` op."""
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from .pieces import Pieces, SamplePieces, add_identity, pieced_branch


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def identity(x: Tensor) -> Tensor:
    return x


@dataclass
class Unit:
    """One residual branch of a pretrained net: the unit computes ``post(alpha * x + branch(x))``.

    ``branch`` has its per-call context (window shapes, masks) already bound. ``modules`` (modules or
    bare parameters such as layer-scale gammas) own every parameter and buffer the branch uses: their
    trainable parameters receive gradients, their BatchNorms are guarded during the recompute.
    ``post`` is the identity for transformers and the ReLU after the addition for ResNets.
    ``pieces``, where the adapter gives them, compute the same branch a piece at a time
    (``reversible.pieces``): the Dr²Net segment then never holds more than one piece's working set.
    ``samples`` says instead that the whole unit acts on each sample alone, so its backward recomputes
    it a few samples at a time.
    """

    branch: Callable[[Tensor], Tensor]
    modules: Sequence[Union[nn.Module, nn.Parameter]]
    post: Callable[[Tensor], Tensor] = identity
    block_end: bool = True      # last unit of a residual block (DTL works per block, Dr²Net per unit)
    pieces: Optional[Pieces] = None
    samples: Optional[SamplePieces] = None
    _params: List[nn.Parameter] = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if self.pieces is not None and self.post is not identity:
            raise ValueError('a unit with pieces must have no post op (its backward adds the identity itself)')

    def __call__(self, x: Tensor, alpha: float) -> Tensor:
        return self.post(alpha * x + self.branch(x))

    def in_pieces(self, reduced_precision: bool = False) -> bool:
        """Whether the bounded recompute applies now: pieces given, none of their dropout active, and
        no process group (each piece's backward marks the unit's parameters ready, and DDP's reducer
        takes each parameter once per backward, so under DDP the unit is recomputed whole). Under
        ``reduced_precision`` autocast a sum over ``parts`` is not split: each part's output would be
        rounded to fp16/bf16 before the sum, where ordinary backprop rounds the whole sum once."""
        return (self.pieces is not None and self.pieces.active() and not _distributed()
                and not (reduced_precision and self.pieces.parts is not None))

    def by_samples(self, x: Tensor, reduced_precision: bool = False) -> bool:
        """Whether the backward recomputes the unit a few samples of ``x`` at a time now (as ``in_pieces``,
        DDP excluded). Not under ``reduced_precision`` autocast: the forward runs the whole batch, and in
        fp16/bf16 kernels for fewer samples round differently enough to show in the gradients (7.8e-4
        on a ResNet-18)."""
        return (self.samples is not None and not self.in_pieces(reduced_precision) and x.shape[0] > 1
                and self.samples.active() and not reduced_precision and not _distributed())

    def bounded(self, x: Tensor, alpha: float, reduced_precision: bool = False) -> Tensor:
        """The unit without a graph, its branch a piece at a time where it can be. (A unit by samples
        runs whole here: without a graph its working set is small, and whole it computes exactly what
        the unconverted network computes, where kernels for fewer samples may round differently.)"""
        if self.in_pieces(reduced_precision):
            return add_identity(alpha, x, pieced_branch(self.pieces, x))
        return self(x, alpha)

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

"""The engine on its own (pure PyTorch): planner, gradients, RNG and BatchNorm replay, stored memory."""
import math

import pytest
import torch
from torch import nn

from dr2net_mm.reversible import SegmentStats, Unit, chunk_length, growth_rate, run_segment

from conftest import relative_error, saved_bytes


class Branch(nn.Module):
    def __init__(self, dim=16, bn=False):
        super().__init__()
        self.norm = nn.BatchNorm1d(dim) if bn else nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, 32), nn.Linear(32, dim)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        h = self.norm(x.transpose(1, 2)).transpose(1, 2) if isinstance(self.norm, nn.BatchNorm1d) else self.norm(x)
        return self.drop(self.fc2(torch.nn.functional.gelu(self.fc1(h))))


def make_chain(n=12, bn=False):
    torch.manual_seed(0)
    return nn.ModuleList(Branch(bn=bn) for _ in range(n))


def run(chain, x, alpha, beta, mode, stats=None, seed=3):
    torch.manual_seed(seed)
    units = [Unit(b, [b]) for b in chain]
    return run_segment(x, units, alpha, beta, mode, 1e-3, stats)


def grads(chain, alpha, beta, mode):
    x = torch.randn(3, 8, 16, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    stats = SegmentStats()
    out = run(chain, x, alpha, beta, mode, stats)
    (out * torch.linspace(-1, 1, 16)).sum().backward()
    result = [x.grad.clone()] + [p.grad.clone() for p in chain.parameters()]
    chain.zero_grad()
    return out.detach(), result, stats


def test_planner_limits():
    assert chunk_length(10, 1.0, 0.0, 'auto', 1e-3) == 1
    assert chunk_length(10, 0.0, 1.0, 'auto', 1e-3) == 10
    assert chunk_length(10, 0.5, 0.5, 'checkpoint', 1e-3) == 1
    assert chunk_length(10, 0.5, 0.5, 'reversible', 1e-3) == 10
    assert chunk_length(10, 0.5, 0.5, 'autograd', 1e-3) == 0
    # shorter chunks for worse conditioning, lower precision and tighter tolerance
    assert chunk_length(100, 0.3, 0.7, 'auto', 1e-3) > chunk_length(100, 0.5, 0.5, 'auto', 1e-3)
    assert chunk_length(100, 0.5, 0.5, 'auto', 1e-3, autocast_dtype=torch.bfloat16) == 1
    assert chunk_length(100, 0.5, 0.5, 'auto', 1e-6) < chunk_length(100, 0.5, 0.5, 'auto', 1e-3)
    assert growth_rate(0.5, 0.5) == pytest.approx(2.0) and math.isinf(growth_rate(1.0, 0.0))
    with pytest.raises(ValueError, match='needs beta > 0'):
        chunk_length(10, 1.0, 0.0, 'reversible', 1e-3)
    with pytest.raises(ValueError, match='unknown grad_mode'):
        chunk_length(10, 1.0, 0.0, 'magic', 1e-3)


@pytest.mark.parametrize('alpha, beta', [(1.0, 0.0), (0.7, 0.3), (0.5, 0.5), (0.3, 0.7), (0.0, 1.0)])
@pytest.mark.parametrize('mode', ['checkpoint', 'auto'])
def test_gradients_match_autograd_with_dropout(alpha, beta, mode):
    chain = make_chain().train()
    out0, g0, _ = grads(chain, alpha, beta, 'autograd')
    out, g, stats = grads(chain, alpha, beta, mode)
    assert torch.equal(out, out0)
    assert relative_error(g, g0) < 1e-3
    # the chunk the planner chose ran (checkpointing: one unit; auto: longer as beta rises)
    assert stats.chunk_length == chunk_length(len(chain), alpha, beta, mode, 1e-3)
    assert (stats.chunk_length == 1) == (mode == 'checkpoint' or beta == 0)


def test_fully_reversible_is_precise_at_end_of_schedule():
    chain = make_chain(24).train()
    _, g0, _ = grads(chain, 0.0, 1.0, 'autograd')
    _, g, stats = grads(chain, 0.0, 1.0, 'reversible')
    assert stats.chunk_length == 24 and stats.stored_tensors == 3
    assert relative_error(g, g0) < 1e-5 and stats.recon_error < 1e-5


def test_whole_segment_reversal_is_caught_and_redone_exactly():
    """The trap: at (0.5, 0.5) whole-segment reconstruction is useless. The probe sees it before any
    gradient counts and the segment is redone from stored values; 'auto' plans chunks that avoid it."""
    chain = make_chain(24).train()
    _, g0, _ = grads(chain, 0.5, 0.5, 'autograd')
    _, g_rev, s_rev = grads(chain, 0.5, 0.5, 'reversible')
    _, g_auto, s_auto = grads(chain, 0.5, 0.5, 'auto')
    assert s_rev.recon_error > 1e-2 and s_rev.fallbacks == 1
    assert relative_error(g_rev, g0) < 1e-5
    assert relative_error(g_auto, g0) < 1e-3 and s_auto.recon_error < 1e-3 and s_auto.fallbacks == 0


def test_parameter_gradients_accumulate_in_place_with_hooks():
    """Each parameter's AccumulateGrad runs once per step (what DDP's reducer relies on)."""
    chain = make_chain(8).train()
    fired = []
    for name, p in chain.named_parameters():
        p.register_post_accumulate_grad_hook(lambda p, name=name: fired.append(name))
    x = torch.randn(2, 4, 16)        # the input needs no gradient: parameters still get theirs
    run(chain, x, 0.3, 0.7, 'auto').sum().backward()
    assert sorted(fired) == sorted(n for n, _ in chain.named_parameters())


def test_dropout_masks_fresh_each_step_and_global_rng_untouched():
    chain = make_chain().train()
    x = torch.randn(2, 4, 16, requires_grad=True)
    torch.manual_seed(0)
    y1 = run_segment(x, [Unit(b, [b]) for b in chain], 0.0, 1.0, 'reversible')
    after_forward = torch.get_rng_state()
    y1.sum().backward()
    assert torch.equal(torch.get_rng_state(), after_forward)   # the backward replays, never consumes
    y2 = run_segment(x, [Unit(b, [b]) for b in chain], 0.0, 1.0, 'reversible')
    assert not torch.equal(y1, y2)                            # next step draws new masks


def test_batchnorm_statistics_updated_once():
    chain = make_chain(6, bn=True).train()
    x = torch.randn(4, 8, 16)
    _ = run(chain, x.clone().requires_grad_(True), 0.5, 0.5, 'autograd')
    ref = [(b.norm.running_mean.clone(), int(b.norm.num_batches_tracked)) for b in chain]
    chain2 = make_chain(6, bn=True).train()
    out = run(chain2, x.clone().requires_grad_(True), 0.5, 0.5, 'auto')
    out.sum().backward()
    for (mean, count), b in zip(ref, chain2, strict=True):
        assert int(b.norm.num_batches_tracked) == count == 1
        assert torch.allclose(b.norm.running_mean, mean)


@pytest.mark.parametrize('mode, grows', [('autograd', True), ('checkpoint', True), ('reversible', False)])
def test_stored_bytes_versus_depth(mode, grows):
    def measure(n):
        chain = make_chain(n).train()
        x = torch.randn(2, 64, 16, requires_grad=True)
        return saved_bytes(lambda: run(chain, x, 0.0, 1.0, mode))
    small, large = measure(4), measure(16)
    assert (large > 2 * small) if grows else (large == small)


def test_no_graph_when_nothing_needs_gradients():
    chain = make_chain(4)
    for p in chain.parameters():
        p.requires_grad_(False)
    stats = SegmentStats()
    out = run(chain, torch.randn(2, 4, 16), 0.5, 0.5, 'auto', stats)
    assert not out.requires_grad and stats.chunk_length == 0


@pytest.mark.parametrize('alpha,beta', [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)])
@pytest.mark.parametrize('mode', ['auto', 'reversible'])
def test_backward_never_writes_the_incoming_gradient(alpha, beta, mode):
    """The backward updates its own stream-sized tensors in place; autograd's gradient stays intact."""
    if mode == 'reversible' and beta == 0.0:
        pytest.skip('reversible mode needs beta > 0')
    chain = make_chain(6)
    x = torch.randn(3, 8, 16, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    out = run(chain, x, alpha, beta, mode)
    incoming = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
    kept = incoming.clone()
    (grad_x,) = torch.autograd.grad(out, x, incoming)
    assert torch.equal(incoming, kept)
    reference = run(chain, x, alpha, beta, 'autograd')
    (expected,) = torch.autograd.grad(reference, x, incoming)
    assert relative_error([grad_x], [expected]) < 1e-5


@pytest.mark.parametrize('alpha, beta', [(0.5, 0.5), (0.0, 1.0)])
def test_a_non_finite_reconstruction_is_reported_and_shortens_the_chunks(alpha, beta):
    """A NaN reaching the streams must not read as a perfect reconstruction: the error is inf (not
    0), a probed chunk falls back to exact values, and the next steps plan shorter chunks."""
    chain = make_chain()
    x = torch.randn(3, 8, 16, generator=torch.Generator().manual_seed(1))
    x[0, 0, 0] = float('nan')
    x.requires_grad_(True)
    stats = SegmentStats()
    run(chain, x, alpha, beta, 'auto', stats).sum().backward()
    assert stats.chunk_length > 1 and math.isinf(stats.recon_error)
    # (0.5, 0.5) probes its chunks: the NaN fails the probe; (0, 1) cannot grow errors and does not probe
    assert stats.fallbacks == (1 if alpha == 0.5 else 0) and stats.shrink == 1
    finite = SegmentStats(shrink=stats.shrink)
    chain.zero_grad()
    run(chain, x.detach().nan_to_num().requires_grad_(True), alpha, beta, 'auto', finite).sum().backward()
    assert finite.recon_error < 1e-3 and finite.shrink <= stats.shrink

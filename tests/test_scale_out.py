"""Scale-out beyond one process: which setups work (tested) and which a config is refused before
anything is built (``dr2net_mm/launch/scale_out.py``). DDP itself: ``test_dr2net_ddp_autocast.py``."""
import os

import pytest
import torch
import torch.distributed as dist
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS, init_default_scope
from test_dr2net_ddp_autocast import SWIN, _build, _input, _loss, average_of_two_ranks, run_two_processes

import dr2net_mm
from dr2net_mm.launch.config import ConfigError
from dr2net_mm.launch.train import build_train_config, parse_args

from conftest import CONFIGS

DR2NET = CONFIGS / 'detection/mask-rcnn_swin-nano_fpn_demo-shapes-dr2net.py'
DTL = CONFIGS / 'detection/mask-rcnn_swin-nano_fpn_demo-shapes-dtl.py'


def _config_with(tmp_path, base, lines: str) -> str:
    """A user's config: the demo config, inherited, plus ``lines``."""
    path = tmp_path / f'{base.stem}_scaled.py'
    path.write_text(f"_base_ = [{str(base)!r}]\n{lines}\n")
    return str(path)


@pytest.mark.parametrize('base, lines, refused', [
    (DR2NET, 'find_unused_parameters = True', 'static_graph=True'),
    (DR2NET, "model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)",
     'static_graph=True'),
    (DR2NET, "model_wrapper_cfg = dict(type='MMDistributedDataParallel', static_graph=True)", None),
    (DR2NET, "model_wrapper_cfg = dict(type='MMFullyShardedDataParallel')", 'does not run under FSDP'),
    (DR2NET, "runner_type = 'FlexibleRunner'\nstrategy = dict(type='FSDPStrategy')", 'does not run under FSDP'),
    (DTL, "runner_type = 'FlexibleRunner'\nstrategy = dict(type='FSDPStrategy')", None),
    (DTL, 'find_unused_parameters = True', None),
    (DTL, "runner_type = 'FlexibleRunner'\nstrategy = dict(type='DeepSpeedStrategy')", 'DeepSpeed is untested'),
])
def test_distributed_setups_are_accepted_or_refused_before_anything_is_built(tmp_path, base, lines, refused):
    args = parse_args([_config_with(tmp_path, base, lines), '--work-dir', str(tmp_path / 'work')])
    if refused is None:
        build_train_config(args)
        return
    with pytest.raises(ConfigError, match=refused):
        build_train_config(args)


def _build_dtl():
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = dr2net_mm.to_dtl(MODELS.build(SWIN), rank=4, inject_from=2)
    model.train()
    return model


def _fsdp_worker(rank, world, port, out_file):
    from mmengine.model import MMFullyShardedDataParallel
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    torch.set_num_threads(1)
    model = MMFullyShardedDataParallel(_build_dtl(), device_id=torch.device('cpu'))   # use_orig_params=True
    for step in range(2):
        model.zero_grad()
        torch.manual_seed(100 + step)
        _loss(model, _input(rank)).backward()
    with MMFullyShardedDataParallel.summon_full_params(model, with_grads=True):
        grads = {n.replace('_fsdp_wrapped_module.', ''): p.grad.clone() for n, p in model.named_parameters()
                 if p.grad is not None}
    if rank == 0:
        torch.save(grads, out_file)
    del model
    dist.destroy_process_group()


def test_dtl_under_fsdp_gives_the_single_process_average(tmp_path):
    """mmengine's FSDP wrapper (the whole model one FSDP unit, as its default) with DTL: the gathered
    gradients equal the two ranks' average (measured: exactly). Dr²Net is refused (scale_out.py)."""
    out_file = str(tmp_path / 'grads.pth')
    run_two_processes(_fsdp_worker, out_file)
    fsdp_grads = torch.load(out_file)
    expected = average_of_two_ranks(_build_dtl)
    assert expected and set(expected) <= set(fsdp_grads)
    frozen = set(fsdp_grads) - set(expected)    # FSDP gathers a (zero) gradient for the frozen backbone too
    assert all(not fsdp_grads[name].any() for name in frozen)
    for name, grad in expected.items():
        assert (fsdp_grads[name] - grad).norm() <= 1e-5 * grad.norm().clamp_min(1e-12), name


def _accumulated_update(grad_mode: str):
    """The weights' change after one step of mmengine's OptimWrapper accumulating two batches."""
    model = _build(grad_mode)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0), accumulative_counts=2)
    for step in range(2):
        torch.manual_seed(100 + step)
        with wrapper.optim_context(model):
            loss = _loss(model, _input(step))
        wrapper.update_params(loss)
        assert wrapper.should_update() == (step == 1)   # one step, after the second batch
    return {n: p.detach() - before[n] for n, p in model.named_parameters()}


def test_gradient_accumulation_adds_up_as_under_autograd():
    """``accumulative_counts=2``: Dr²Net's nested backward adds into ``.grad`` on the first batch and
    the second, and the one step equals ordinary backprop's (at (0.5, 0.5), chunks reconstructed)."""
    got, expected = _accumulated_update('auto'), _accumulated_update('autograd')
    changed = [n for n, d in expected.items() if d.norm() > 0]
    assert changed
    for name in changed:
        assert (got[name] - expected[name]).norm() <= 1e-4 * expected[name].norm(), name


def _dr2net_fsdp_worker(rank, world, port, out_file, use_orig_params):
    from mmengine.model import MMFullyShardedDataParallel
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    model = MMFullyShardedDataParallel(_build(), device_id=torch.device('cpu'), use_orig_params=use_orig_params)
    try:
        _loss(model, _input(rank)).backward()
        message = 'trained'
    except RuntimeError as error:
        message = str(error)
    if rank == 0:
        with open(out_file, 'w') as f:
            f.write(message)
    del model
    dist.destroy_process_group()


@pytest.mark.parametrize('use_orig_params', [True, False])
def test_dr2net_under_fsdp_built_in_python_stops_at_its_first_forward(tmp_path, use_orig_params):
    """A model wrapped in FSDP without our tools (no config check) stops with the reason, not with
    wrong gradients (measured before this check: relative error 1.0 against the ranks' average)."""
    out_file = tmp_path / 'message.txt'
    run_two_processes(_dr2net_fsdp_worker, str(out_file), use_orig_params)
    assert out_file.read_text().startswith('Dr2Net does not run under FSDP')

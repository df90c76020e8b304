"""Memory, speed and gradient precision of the methods on any config, in one table.

    python tools/benchmark.py CONFIG [CONFIG ...] [--backbone-only] \
        [--methods autograd,with_cp,dr2net] [--alpha 0 --beta 1 | --points 1,0 0.5,0.5 0,1] \
        [--input-shape [N] C [T] H W] [--batch-size N] [--iters 3] [--warmup 1] \
        [--cfg-options model.backbone.depths="[2,2,18,2]"] [--device cpu|cuda|meta] [--out results.json] \
        [--peak-report 10] [--amp] [--piece-working-set 8]
    python tools/benchmark.py CONFIG --backbone-only --inference [--device meta] ...
    python tools/benchmark.py CONFIG --backbone-only --sweep depth|resolution|frames --values 2 4 8 \
        [--budget-mib 8192] [--plot memory.png]

Without --backbone-only the whole model (detector, segmentor, recognizer) trains on a synthetic
batch of the config's input shape with synthetic targets (no dataset needed); with it, the backbone
alone. Memory is the peak of live tensors allocated during one training step (allocator-independent,
repeatable; parameters are not included), plus what autograd saved for backward; on CUDA also
torch.cuda.max_memory_allocated. Ratios to autograd and with_cp come from the same run.
--device meta (with --backbone-only) allocates the same tensors without values or computation: the
same peaks as on the CPU (tested) in seconds, at sizes no real memory holds (1,024 frames of 224²);
no times or gradient errors. --inference measures an eval-mode forward without a graph instead
(validation and testing: a temporal action detector's sliding windows). --amp runs every forward
under autocast as mixed-precision training does (fp16 on CUDA with the loss scaled as GradScaler
starts, bf16 on the CPU).
A sweep repeats the measurement over depth (blocks per stage), resolution or frames, plots peak
memory against it, one line per method, and says per method how far the swept value can go within
--budget-mib (a fit of the measured points, marked where it extrapolates).
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys
import time

import torch
from mmengine.config import DictAction

import dr2net_mm  # noqa: F401
from dr2net_mm.benchmark.report import markdown_table, peak_report
from dr2net_mm.benchmark.run import autocast_dtype, benchmark_config
from dr2net_mm.benchmark.shapes import resolve_input_shape
from dr2net_mm.benchmark.sweep import DEFAULT_BUDGET_MIB, SWEEPS, budget_table, plot_sweep, sweep_points, sweep_table
from dr2net_mm.benchmark.variants import METHODS, dtl_settings, original_backbone_cfg
from dr2net_mm.launch.config import ConfigError, load_config, merge_options
from dr2net_mm.methods import Dr2NetMethod


def parse_points(args) -> list:
    """``--points`` (or ``--alpha``/``--beta``) as checked (alpha, beta) pairs: a bad entry is an error."""
    if not args.points:
        return [(args.alpha, args.beta)]
    points = []
    for p in args.points:
        try:
            a, b = (float(v) for v in p.split(','))
        except ValueError:
            raise ConfigError(f'--points takes ALPHA,BETA pairs such as 0.5,0.5; got {p!r}') from None
        points.append((a, b))
    return points


def check_methods(methods: list, points: list) -> None:
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ConfigError(f'--methods: unknown {unknown or "(none given)"}; choose from {",".join(METHODS)}')
    if 'dr2net' in methods:
        for alpha, beta in points:
            try:
                Dr2NetMethod(alpha, beta)
            except ValueError as error:
                raise ConfigError(f'--points/--alpha/--beta {alpha:g},{beta:g}: {error}') from None


def count_blocks(cfg) -> int:
    """Residual blocks of the config's backbone, as the adapters see them."""
    from mmengine.registry import MODELS, init_default_scope

    from dr2net_mm.adapters import find_adapter
    init_default_scope(cfg.default_scope)
    backbone = MODELS.build(original_backbone_cfg(cfg.model.backbone))
    adapter = find_adapter(backbone)
    return sum(len(adapter.block_channels(stage)) for _, stage in adapter.stages(backbone))


def plot_path(args, config: str) -> str:
    stem = osp.splitext(osp.basename(config))[0]
    if args.plot:
        return args.plot if len(args.configs) == 1 else f'{osp.splitext(args.plot)[0]}_{stem}.png'
    folder = osp.dirname(args.out) if args.out else osp.join('work_dirs', 'benchmark')
    os.makedirs(folder or '.', exist_ok=True)
    return osp.join(folder, f'{stem}_{args.sweep}.png')


def measure(path: str, cfg, shape, methods, points, args) -> list:
    """One benchmark table of ``cfg`` at ``shape``, printed as it is measured."""
    scope = 'backbone only' if args.backbone_only else 'whole model (synthetic batch and targets)'
    scope += ', inference (eval, no graph)' if args.inference else ', one training step'
    scope += f', autocast {autocast_dtype(torch.device(args.device))}' if args.amp else ', fp32'
    print(f'\n## {path}\n{scope}, input {tuple(shape)}, {args.device}, {platform.processor() or platform.machine()}, '
          f'torch {torch.__version__}, {torch.get_num_threads()} threads', flush=True)
    start = time.time()

    def progress(method, alpha, beta):
        label = method if alpha is None else f'{method} (α={alpha:g}, β={beta:g})'
        print(f'  [{time.time() - start:6.1f}s] measuring {label} ...', file=sys.stderr, flush=True)

    dtl = dtl_settings(cfg.model.backbone, args.dtl_rank, args.dtl_inject_from)
    if dtl.get('inject_from') is None:
        blocks = count_blocks(cfg)
        dtl['inject_from'] = blocks - blocks // 4 + 1 if blocks else None
    try:
        rows = benchmark_config(cfg, methods, shape, points, iters=args.iters, warmup=args.warmup,
                                device=args.device, progress=progress, dtl=dtl, whole_model=not args.backbone_only,
                                peak_report=args.peak_report, inference=args.inference, amp=args.amp,
                                dr2net=None if args.piece_working_set is None else dict(
                                    piece_working_set=args.piece_working_set))
    except ValueError as error:
        raise ConfigError(f'{path}: {error}') from None
    print(markdown_table(rows), flush=True)
    if args.peak_report:
        print(peak_report(rows), flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--methods', default='autograd,with_cp,dr2net,dtl',
                        help=f'comma-separated, from {",".join(METHODS)} (with_cp_sdpa: with_cp with '
                             'mmcv attention through the fused kernel Dr2Net uses, a peer that isolates it)')
    parser.add_argument('--dtl-rank', type=int, default=4)
    parser.add_argument('--dtl-inject-from', type=int, help='DTL block M (default: the config\'s, else the '
                        'first block of the last quarter)')
    parser.add_argument('--backbone-only', action='store_true',
                        help='measure the backbone alone (default: the whole model on a synthetic batch)')
    parser.add_argument('--inference', action='store_true',
                        help='with --backbone-only: the peak of an eval-mode forward without a graph (validation, '
                        'testing) instead of a training step')
    parser.add_argument('--alpha', type=float, default=0.0)
    parser.add_argument('--beta', type=float, default=1.0)
    parser.add_argument('--points', nargs='+', help='several ALPHA,BETA points for dr2net')
    parser.add_argument('--input-shape', type=int, nargs='+',
                        help='C H W (C T H W for video) with --batch-size, or N C H W (N C T H W)')
    parser.add_argument('--batch-size', type=int, help='batch size (default: the config\'s)')
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help="cpu, cuda, or meta: shapes only (with --backbone-only), exact peaks, no times")
    parser.add_argument('--amp', action='store_true',
                        help='forward under autocast, fp16 on cuda and bf16 on cpu, as mixed-precision training '
                        'runs (gradient errors against autograd under the same autocast)')
    parser.add_argument('--piece-working-set', type=float, metavar='X',
                        help="Dr2Net's bounded recompute target per piece, in multiples of a unit's input "
                        '(default: the config\'s, else 2; larger: fewer pieces, a higher peak; inf: units whole)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--sweep', choices=SWEEPS, help='repeat over depth (blocks per stage), resolution or frames')
    parser.add_argument('--values', type=int, nargs='+', help='the swept values, e.g. --values 2 4 8')
    parser.add_argument('--budget-mib', type=float, default=DEFAULT_BUDGET_MIB,
                        help='with --sweep: print the largest value whose peak fits this many MiB, per method, '
                        'from a fit of the measured points (default: %(default)g)')
    parser.add_argument('--plot', help='PNG of peak memory against the swept variable (default: next to --out, '
                        'else work_dirs/benchmark/<config>_<sweep>.png)')
    parser.add_argument('--peak-report', type=int, default=0, metavar='N',
                        help='also list, per row, the N largest groups of tensors alive at the peak '
                        '(by phase, module and operator)')
    parser.add_argument('--out', help='write all rows as JSON')
    args = parser.parse_args()
    if args.values and not args.sweep:
        parser.error('--values needs --sweep')
    methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    points = parse_points(args)
    check_methods(methods, points)
    results = []
    for path in args.configs:
        cfg = load_config(path)
        merge_options(cfg, args.cfg_options)
        try:
            shape = resolve_input_shape(cfg, args.input_shape, args.batch_size)
        except ValueError as error:
            raise ConfigError(f'{path}: {error}') from None
        if not args.sweep:
            rows = measure(path, cfg, shape, methods, points, args)
            results.append(dict(config=path, input_shape=list(shape), device=args.device,
                                backbone_only=args.backbone_only, torch=torch.__version__, rows=rows))
            continue
        rows = []
        try:
            swept = list(sweep_points(cfg, shape, args.sweep, args.values))
        except ValueError as error:
            raise ConfigError(f'{path}: {error}') from None
        for value, point_cfg, point_shape in swept:
            print(f'\n### {args.sweep} = {value}', flush=True)
            rows += [dict(row, sweep_value=value)
                     for row in measure(path, point_cfg, point_shape, methods, points, args)]
        print(f'\n## {path}: peak MiB against {args.sweep}\n{sweep_table(rows)}', flush=True)
        print(f'\n{budget_table(rows, args.sweep, args.budget_mib)}', flush=True)
        plot = plot_path(args, path)
        what = 'inference' if args.inference else 'one training step'
        title = f'{osp.basename(path)}\n{args.sweep} sweep, batch {shape[0]}, {what}, {args.device}'
        plot_sweep(rows, args.sweep, plot, title=title, budget_mib=args.budget_mib)
        print(f'plot written to {plot}')
        results.append(dict(config=path, input_shape=list(shape), device=args.device, sweep=args.sweep,
                            backbone_only=args.backbone_only, torch=torch.__version__, rows=rows))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
        print(f'\nresults written to {args.out}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except ConfigError as error:
        sys.exit(f'error: {error}')

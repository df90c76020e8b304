"""tools/compare.py reads finished runs (conventional and Dr2Net) into one table with plots."""
import json
import shutil
import subprocess
import sys

from dr2net_mm.benchmark.compare import markdown, plot, read_run

from conftest import CONFIGS, NO_WORKERS, REPO

FAST = NO_WORKERS + [
    'train_cfg.max_iters=4', 'train_cfg.val_interval=4', 'default_hooks.logger.interval=1', 'load_from=None']


def test_compare_finished_runs(in_workspace, tmp_path):
    work_dirs = []
    for method, extra in (('finetune', []), ('dr2net', ['custom_hooks.0.end=4'])):
        work_dir = in_workspace / f'compare-{method}'
        subprocess.run([sys.executable, str(REPO / 'tools/train.py'),
                        str(CONFIGS / f'segmentation/upernet_swin-nano_demo-shapes-{method}.py'),
                        '--work-dir', str(work_dir), '--cfg-options', *FAST, *extra],
                       cwd=in_workspace, check=True, capture_output=True)
        work_dirs.append(work_dir)
    runs = [read_run(w) for w in work_dirs]
    assert [(r.task, r.method, r.backbone) for r in runs] == [('segmentation', 'conventional', 'SwinTransformer'),
                                                              ('segmentation', 'dr2net', 'SwinTransformer')]
    assert all('mIoU' in r.metrics and r.seconds_per_iter > 0 and r.trainable_params > 0 for r in runs)
    assert runs[1].iters == [1, 2, 3, 4] and runs[1].alpha[0] == 1.0 and runs[1].beta[0] == 0.0
    assert runs[1].beta == sorted(runs[1].beta) and runs[1].beta[-1] > 0.8
    table = markdown(runs)
    assert table.count('| segmentation | SwinTransformer |') == 2
    assert '| compare-finetune |' in table and '| compare-dr2net |' in table and table.count('| ok |') == 2
    assert runs[1].tol == 1e-3 and runs[0].tol is None
    written = plot(runs, tmp_path)
    assert [p.split('/')[-1] for p in written] == ['metric_vs_cost_segmentation.png',
                                                   'dr2net_coefficients_compare-dr2net.png']

    # A run whose loss went non-finite is flagged, not reported as healthy.
    broken = in_workspace / 'compare-broken'
    shutil.copytree(work_dirs[1], broken)
    scalars = next(broken.glob('2*/vis_data/scalars.json'))
    rows = [json.loads(line) for line in scalars.read_text().splitlines()]
    for row in rows:
        if 'loss' in row and row.get('iter', 0) >= 3:
            row['loss'] = float('nan')
    scalars.write_text('\n'.join(json.dumps(row) for row in rows))
    run = read_run(broken)
    assert run.nonfinite_loss_iter == 3 and run.status == 'loss non-finite from iter 3'
    assert '| loss non-finite from iter 3 |' in markdown([run])

"""tools/study.py's parts: the variants' configs, the statistics, the claims (the runs: --quick in CI)."""
import os
import time

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from dr2net_mm.demo.runs import REPO, TASKS
from dr2net_mm.study import Spread, compare, spread
from dr2net_mm.study.report import claims, overview, summarise, task_table
from dr2net_mm.study.variants import TASK_NAMES, VARIANTS, variant_config, variants_for


def _config(task: str, variant: str, tmp_path) -> Config:
    t, v = TASKS[task], VARIANTS[variant]
    return Config.fromfile(str(variant_config(v, REPO / t.folder / f'{t.stem}-{v.config}.py', tmp_path)))


@pytest.mark.parametrize('task', TASK_NAMES)
def test_each_variant_changes_only_what_it_says(task, tmp_path):
    dr2net = _config(task, 'dr2net', tmp_path)
    hook = dr2net.custom_hooks[0]
    fixed = _config(task, 'dr2net-fixed', tmp_path)
    assert (fixed.model.backbone.alpha, fixed.model.backbone.beta) == (0.0, 1.0)
    assert (fixed.custom_hooks[0].alpha, fixed.custom_hooks[0].beta) == (0.0, 1.0)
    step = _config(task, 'dr2net-step', tmp_path).custom_hooks[0]
    assert step.alpha.milestones == [hook.end / 2, hook.end] and step.beta['values'] == [0.5, 1.0]
    assert (step.begin, step.end, step.by_epoch) == (hook.begin, hook.end, hook.by_epoch)
    for policy in ('linear', 'exp'):
        assert _config(task, f'dr2net-{policy}', tmp_path).custom_hooks[0].beta == dict(policy=policy, start=0.0,
                                                                                          end=1.0)
    assert _config(task, 'with_cp', tmp_path).model.backbone.with_cp is True
    dtl_plus = _config(task, 'dtl+', tmp_path)
    assert dtl_plus.model.backbone.dwconv_kernel == 3
    for config in (fixed, dtl_plus):     # everything else as in the demo config
        assert config.load_from == dr2net.load_from and config.train_cfg == dr2net.train_cfg


def test_generated_configs_build_the_models(tmp_path):
    for variant in ('dr2net-fixed', 'with_cp', 'dtl+'):
        cfg = _config('recognition', variant, tmp_path)
        init_default_scope(cfg.default_scope)
        MODELS.build(cfg.model)


def test_policies_run_on_the_policy_task_only():
    assert {v.name for v in variants_for('detection', 'recognition')} == {
        'scratch', 'finetune', 'with_cp', 'dr2net', 'dr2net-fixed', 'dtl', 'dtl+'}
    assert len(variants_for('recognition', 'recognition')) == len(VARIANTS)


def test_spread_and_comparison():
    assert spread([1.0, 2.0, 3.0]) == Spread(2.0, 1.0, 3)
    assert spread([0.5]) == Spread(0.5, None, 1) and spread([]) is None
    assert 'within the spread' in compare(spread([0.80, 0.82, 0.78]), spread([0.79, 0.81, 0.80]))
    assert 'below the spread' in compare(spread([0.60, 0.61, 0.59]), spread([0.80, 0.81, 0.79]))
    assert 'one seed' in compare(spread([0.6]), spread([0.8, 0.7]))
    # a difference larger than two standard errors but not than one method's spread stays within it
    assert 'within the spread' in compare(spread([0.5, 0.9, 0.7] * 4), spread([0.55, 0.55, 0.55]))


def test_figures_show_the_digits_the_spread_leaves_meaningful():
    assert str(spread([0.814, 0.787, 0.811])) == '0.804 ± 0.015'      # not 0.8040 ± 0.015
    assert str(spread([0.78])) == '0.7800 (n=1)'                        # not 0.78: four digits
    assert str(spread([92.12, 91.94])) == '92.03 ± 0.13'
    assert str(spread([0.1, 0.1])) == '0.1000 ± 0'
    assert compare(spread([65.0, 67.0, 64.0]), spread([60.0, 63.0, 58.0])).startswith('+5.0, ')
    assert compare(spread([0.78]), spread([0.80, 0.81, 0.79])).startswith('-0.020 (one seed')


def test_claims_say_what_was_not_run():
    results = [dict(variant='finetune', seed=s, metrics={'acc/top1': v}, final_loss=0.1, train_minutes=1.0,
                    seconds_per_iter=0.1) for s, v in enumerate((0.9, 0.92, 0.91))]
    results += [dict(variant='dr2net', seed=s, metrics={'acc/top1': v}, final_loss=0.1, train_minutes=1.0,
                     seconds_per_iter=0.1) for s, v in enumerate((0.89, 0.91, 0.93))]
    cost = dict(peak_mib={'finetune': 100.0, 'dr2net': 30.0, 'with_cp': 50.0},
                seconds_per_step={'finetune': 1.0, 'dr2net': 1.5, 'with_cp': 1.2})
    text = claims(summarise(results, ['acc/top1']), 'acc/top1', cost)
    assert text[0].startswith("*Dr²Net keeps conventional finetuning's acc/top1?* dr2net 0.910 ± 0.020 against "
                              'finetune 0.910 ± 0.010') and 'within the spread' in text[0]
    assert '0.30 × conventional' in text[0] and '0.60 × `with_cp`' in text[0] and '1.25 × `with_cp`\'s time' in text[0]
    assert text[1].endswith('not run yet.') and text[2].endswith('not run on this task.')


def test_overview_answers_each_claim_per_task_with_seeds_and_costs():
    def runs(variant, values):
        return [dict(variant=variant, seed=s, metrics={'mIoU': v}, final_loss=0.1) for s, v in enumerate(values)]
    results = (runs('finetune', (92.0, 92.2, 91.9)) + runs('dr2net', (91.9, 92.0, 91.8)) + runs('dr2net-fixed', (90.0,))
               + runs('dr2net-step', (91.0, 91.1, 91.2)) + runs('dr2net-linear', (92.0, 92.1, 91.9))
               + runs('dtl', (90.0, 90.1, 89.9)))
    cost = dict(peak_mib={'with_cp': 50.0, 'dr2net': 25.0, 'dtl': 20.0},
                seconds_per_step={'with_cp': 1.0, 'dr2net': 1.5})
    row = overview({'segmentation': (summarise(results, ['mIoU']), 'mIoU', cost)}).splitlines()[-1].split(' | ')
    assert row[0] == '| segmentation (mIoU)'
    assert row[1] == '-0.13 (1.3 SE, 3 and 3 seeds): within'
    assert row[2] == '+1.90 (one seed)'
    assert row[3] == 'linear; 1 of the 3 others below its spread'      # step; fixed has one seed
    assert row[4].startswith('-2.03 (') and row[4].endswith('below') and row[5] == '–'
    assert row[6:] == ['0.50 / 0.40', '1.50 / – |']


def test_records_persist_runs_for_this_data_version_only(tmp_path):
    from dr2net_mm.study.records import provenance, read_record, record_path, task_records, write_record
    checkpoint = tmp_path / 'pretrain.pth'
    checkpoint.write_bytes(b'weights')
    origin = provenance(REPO, checkpoint, data_version=4)
    assert origin['pretrained_sha256'] == '9a129038d9a00aed' and origin['data_version'] == 4
    assert origin['commit'] and origin['commit'] != 'unknown'
    assert ', 1 torch threads, ' in provenance(REPO, checkpoint, 4, threads=1, runs_at_a_time=2)['machine']
    assert provenance(REPO, checkpoint, 4, threads=1, runs_at_a_time=2)['machine'].endswith(', 2 runs at a time')
    assert 'runs at a time' not in origin['machine']
    path = record_path(tmp_path / 'runs', 'recognition', 'dr2net', 1)
    write_record(path, dict(task='recognition', variant='dr2net', seed=1, metrics={'acc/top1': 0.9}, **origin))
    write_record(record_path(tmp_path / 'runs', 'recognition', 'finetune', 0),
                 dict(task='recognition', variant='finetune', seed=0, **dict(origin, data_version=3)))
    assert read_record(path, 4)['metrics'] == {'acc/top1': 0.9}
    assert read_record(path, 5) is None        # older demo data: to be run again
    assert [r['variant'] for r in task_records(tmp_path / 'runs', 'recognition', 4)] == ['dr2net']


def test_commit_of_a_run_ignores_what_the_study_itself_rewrites(tmp_path):
    import subprocess

    from dr2net_mm.study.records import commit
    for name in ('docs/study.md', 'docs/img/study_recognition.png', 'docs/study/runs/r/a.json', 'train.py'):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text('first')
    git = ['git', '-c', 'user.name=study', '-c', 'user.email=study@example.com']
    subprocess.run([*git, 'init', '-q'], cwd=tmp_path, check=True)
    subprocess.run([*git, 'add', '-A'], cwd=tmp_path, check=True)
    subprocess.run([*git, 'commit', '-qm', 'first'], cwd=tmp_path, check=True)
    head = commit(tmp_path)
    assert len(head) == 10 and '+' not in head
    for name in ('docs/study.md', 'docs/img/study_recognition.png', 'docs/study/runs/r/a.json'):
        (tmp_path / name).write_text('rewritten by a study run')
    assert commit(tmp_path) == head
    (tmp_path / 'train.py').write_text('changed code')
    assert commit(tmp_path) == head + '+changes'


def test_table_shows_the_fastest_run_and_costs_against_conventional():
    results = [dict(variant='finetune', seed=s, metrics={'mIoU': 90.0 + s}, final_loss=0.1, seconds_per_iter=t)
               for s, t in enumerate((0.2, 3.4, 0.25))]      # seed 1 shared the machine
    cost = dict(peak_mib={'finetune': 60.0}, seconds_per_step={'finetune': 0.5})
    row = task_table(summarise(results, ['mIoU']), ['mIoU'], cost).splitlines()[-1]
    assert row == '| finetune | 3 | 91.0 ± 1.0 | 0.1000 ± 0 | 60.0 (1.00 ×) | 0.500 (1.00 ×) | 0.200 |'


def test_cost_cache_ignores_the_study_bookkeeping_but_not_the_methods():
    from dr2net_mm.study.cost import measured_sources
    names = {p.relative_to(REPO / 'dr2net_mm').as_posix() for p in measured_sources(REPO / 'dr2net_mm')}
    assert {'study/cost.py', 'reversible/__init__.py', 'benchmark/__init__.py'} <= names
    assert not names & {'study/report.py', 'study/stats.py', 'study/records.py'}


def test_costs_of_the_variants_from_one_benchmark_run():
    from dr2net_mm.study.cost import PATH_POINTS, per_variant
    rows = [dict(method='autograd', seconds=1.0), dict(method='with_cp', seconds=1.2)]
    rows += [dict(method='dr2net', alpha=a, beta=b, seconds=2.0 - b) for a, b in PATH_POINTS]
    rows += [dict(method='dtl', seconds=0.5), dict(method='dtl', seconds=0.6)]
    costs = per_variant(rows, 'seconds')
    assert costs['finetune'] == costs['scratch'] == 1.0 and costs['with_cp'] == 1.2
    assert costs['dr2net'] == costs['dr2net-step'] == 2.0 and costs['dr2net-fixed'] == 1.0   # slowest on the path
    assert (costs['dtl'], costs['dtl+']) == (0.5, 0.6)


def test_costs_are_measured_again_when_a_config_or_the_code_changes(tmp_path, monkeypatch):
    from dr2net_mm.study import cost

    measured = []
    monkeypatch.setattr(cost, 'measure_task', lambda a, b: measured.append(a) or {'finetune': 1.0 * len(measured)})
    dr2net, dtl = tmp_path / 'a_dr2net.py', tmp_path / 'a_dtl.py'
    dr2net.write_text("model = dict(backbone=dict(type='X', depth=2))\n")
    dtl.write_text("model = dict(backbone=dict(type='Y'))\n")
    cache = tmp_path / 'cost.json'
    assert cost.task_cost(cache, dr2net, dtl) == {'finetune': 1.0}
    assert cost.task_cost(cache, dr2net, dtl) == {'finetune': 1.0}          # cached
    dr2net.write_text("model = dict(backbone=dict(type='X', depth=4))\n")
    assert cost.task_cost(cache, dr2net, dtl) == {'finetune': 2.0}          # the config changed
    monkeypatch.setattr(cost, 'fingerprint', lambda *configs: 'other code')
    assert cost.task_cost(cache, dr2net, dtl) == {'finetune': 3.0}          # the code changed


def test_a_tool_run_beside_others_gets_its_threads_and_its_own_console(tmp_path):
    from dr2net_mm.demo.runs import Demo
    script = tmp_path / 'tool.py'
    script.write_text("import os, sys\nprint('threads', os.environ['OMP_NUM_THREADS'])\nsys.exit(int(sys.argv[1]))\n")
    console = tmp_path / 'run' / 'study_console.log'
    Demo(tmp_path, quick=True).run([script, 0], threads=1, console=console)
    assert console.read_text() == 'threads 1\n'
    with pytest.raises(RuntimeError, match=r'tool.py failed \(exit status 3\).*study_console.log.*\nthreads 1'):
        Demo(tmp_path, quick=True).run([script, 3], threads=1, console=console)


def _study_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location('study_tool', REPO / 'tools' / 'study.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_go_side_by_side_and_no_new_one_starts_after_a_failure(tmp_path, monkeypatch):
    import threading
    import time
    tool = _study_tool()
    study = tool.Study(tmp_path, quick=True)
    running, most, started = set(), [0], []
    lock = threading.Lock()

    def run(name, variant, seed, pretrained, jobs=1):
        with lock:
            started.append(seed)
            running.add(seed)
            most[0] = max(most[0], len(running))
        time.sleep(0.2)
        with lock:
            running.discard(seed)
        if seed == 1:
            raise RuntimeError('run 1 failed')
        return {}

    monkeypatch.setattr(study, 'run', run)
    variant = VARIANTS['finetune']
    study.run_all([('recognition', variant, seed, tmp_path) for seed in (2, 3, 4)], jobs=2)
    assert most[0] == 2 and sorted(started) == [2, 3, 4]
    started.clear()
    with pytest.raises(RuntimeError, match='run 1 failed'):
        study.run_all([('recognition', variant, seed, tmp_path) for seed in range(8)], jobs=2)
    assert len(started) <= 4      # 0 and 1, and at most the two the workers took up as they finished


def test_plan_lists_runs_done_and_to_run_without_running_anything(tmp_path, capsys):
    from dr2net_mm.demo.make import DATA_VERSIONS
    from dr2net_mm.study.records import record_path, write_record
    tool = _study_tool()
    study = tool.Study(tmp_path, quick=True)
    write_record(record_path(study.records, 'recognition', 'finetune', 0),
                 dict(task='recognition', variant='finetune', seed=0, commit='abc', date='2026-11-25',
                      data_version=DATA_VERSIONS['motion']))
    work_dir = study.dir / 'recognition' / 'finetune' / 'seed1'
    work_dir.mkdir(parents=True)
    (work_dir / 'epoch_4.pth').write_bytes(b'')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_4.pth'))
    finetune = VARIANTS['finetune']
    assert study.status('recognition', finetune, 0) == (True, 'done    recognition finetune seed 0 (abc, 2026-11-25)')
    done, line = study.status('recognition', finetune, 1)
    assert not done and line.startswith('to run  recognition finetune seed 1 (its last checkpoint: ')
    assert line.endswith('seed1/epoch_4.pth)')
    assert study.status('recognition', finetune, 2) == (False, 'to run  recognition finetune seed 2')


def test_plan_option_prints_every_named_run_and_a_count(capsys):
    import re
    assert _study_tool().main(['--quick', '--plan']) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r'^(done   |to run ) recognition ', out, re.M)) == 8   # --quick: 4 methods x 2 seeds
    assert re.search(r'^\d of 8 runs done, \d to run$', out, re.M)


def test_cost_says_how_busy_the_machine_was_and_warns_when_busy(monkeypatch):
    from dr2net_mm.study import cost
    busy = {}

    def rows(cfg, methods, shape, points, **kwargs):
        if busy:           # another process computes beside the timing, on every core
            seconds = time.perf_counter() + 0.05
            while time.perf_counter() < seconds:
                pass
            busy['others'] += 0.05 * (os.cpu_count() or 1)
        if methods == ['dtl']:
            return [dict(method='dtl', peak_mib=2.0, seconds=0.2, status='ok')]
        return ([dict(method='autograd', peak_mib=9.0, seconds=1.0, status='ok'),
                 dict(method='with_cp', peak_mib=4.0, seconds=1.1, status='ok')]
                + [dict(method='dr2net', alpha=a, beta=b, peak_mib=3.0, seconds=1.3, status='ok') for a, b in points]
                + [dict(method='dtl', peak_mib=2.0, seconds=0.2, status='ok')])

    monkeypatch.setattr(cost, 'benchmark_config', rows)
    task = TASKS['recognition']
    configs = [REPO / task.folder / f'{task.stem}-{m}.py' for m in ('dr2net', 'dtl')]
    measured = cost.measure_task(*configs)
    assert measured['peak_mib']['dr2net-fixed'] == 3.0 and measured['seconds_per_step']['with_cp'] == 1.1
    assert _study_tool().timed_at(dict(other_work=0.02)) == '; while they were timed other processes took 2% of the CPU'
    assert _study_tool().timed_at({}) == ''
    real = cost._machine_cpu_seconds
    busy['others'] = 0.0
    monkeypatch.setattr(cost, '_machine_cpu_seconds', lambda: real() + busy['others'])
    with pytest.warns(UserWarning, match='other processes took'):
        measured = cost.measure_task(*configs)
    assert measured['other_work'] > 0.25

"""Tables for the terminal and for markdown pages."""
from typing import Dict, List, Sequence

COLUMNS = (('method', 'method', '{}'), ('alpha', 'α', '{:.2f}'), ('beta', 'β', '{:.2f}'),
           ('peak_mib', 'peak MiB', '{:.1f}'), ('saved_mib', 'saved MiB', '{:.1f}'),
           ('cuda_peak_mib', 'CUDA peak MiB', '{:.1f}'),
           ('peak_vs_autograd', 'peak ×autograd', '{:.3f}'), ('peak_vs_with_cp', 'peak ×with_cp', '{:.3f}'),
           ('seconds', 's/iter', '{:.3f}'), ('time_vs_with_cp', 'time ×with_cp', '{:.2f}'),
           ('grad_error', 'grad rel err', '{:.1e}'), ('chunk_length', 'chunk L', '{}'),
           ('recon_error', 'recon err', '{:.1e}'), ('trainable_params', 'trainable', '{:,}'))


def _cell(row: Dict, key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None:
        return '–'
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def markdown_table(rows: List[Dict], columns: Sequence = COLUMNS) -> str:
    used = [c for c in columns if any(r.get(c[0]) is not None for r in rows)]
    lines = ['| ' + ' | '.join(c[1] for c in used) + ' | status |', '|' + '---|' * (len(used) + 1)]
    for row in rows:
        cells = [_cell(row, key, fmt) for key, _, fmt in used]
        lines.append('| ' + ' | '.join(cells) + f' | {row.get("status", "")} |')
    return '\n'.join(lines)


def peak_report(rows: List[Dict]) -> str:
    """For each row, the largest groups of tensors alive at its peak (``--peak-report``)."""
    out = []
    for row in rows:
        groups = row.get('alive_at_peak')
        if not groups:
            continue
        label = row['method']
        if row.get('alpha') is not None:
            label += f" (α={row['alpha']:g}, β={row['beta']:g})"
        out += [f'\nalive at the peak of {label} ({row["peak_mib"]:.1f} MiB), largest groups:',
                '| phase | module | op | MiB | tensors | shapes |', '|---|---|---|---|---|---|']
        out += [f"| {g['phase']} | {g['module']} | {g['op']} | {g['mib']:.1f} | {g['count']} | {g['shapes']} |"
                for g in groups]
    return '\n'.join(out)

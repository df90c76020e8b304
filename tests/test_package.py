import re
import subprocess
from pathlib import Path

import mmengine.registry as root_registry
import pytest

import dr2net_mm
from dr2net_mm import registry

from conftest import REPO


def test_version_and_registries_are_children_of_mmengine_roots():
    assert dr2net_mm.__version__
    assert registry.MODELS.parent is root_registry.MODELS
    assert registry.HOOKS.parent is root_registry.HOOKS
    assert registry.MODELS.scope == registry.HOOKS.scope == 'dr2net_mm'
    assert 'dr2net_mm' in root_registry.MODELS.children
    assert 'dr2net_mm' in root_registry.HOOKS.children


def test_registry_locations_import():
    registry.MODELS.import_from_location()
    registry.HOOKS.import_from_location()


def _named_paths(text: str):
    """Repository paths a document or script names (``tools/x.py``, ``configs/.../{a,b}.py`` expanded)."""
    found = set()
    pattern = r'(?<![\w/.-])((?:tools|configs|dr2net_mm|requirements|docs|tests|\.ci)/[\w./{},-]+)'
    for match in re.findall(pattern, text):
        match = match.rstrip('.,)')
        if '...' in match or '<' in match:
            continue
        braces = re.search(r'\{([^}]*)\}', match)
        options = braces.group(1).split(',') if braces else ['']
        for option in options:
            path = match[:braces.start()] + option + match[braces.end():] if braces else match
            if '{' not in path and '*' not in path:
                found.add(path)
    return found


@pytest.mark.skipif(not (REPO / '.git').exists(), reason='needs the git checkout')
def test_every_path_the_readme_makefile_and_tools_name_is_tracked():
    """A file that exists here but is ignored (tools/data/ once was) is missing from every clone."""
    tracked = set(subprocess.run(['git', 'ls-files'], cwd=REPO, capture_output=True, text=True, check=True)
                  .stdout.splitlines())
    tracked_dirs = {str(Path(p).parents[i]) for p in tracked for i in range(len(Path(p).parents) - 1)}
    sources = [REPO / 'README.md', REPO / 'Makefile', REPO / '.ci' / 'run', *sorted((REPO / 'tools').rglob('*.py'))]
    named = set()
    for source in sources:
        named |= _named_paths(source.read_text())
    assert 'tools/data/make_demo_data.py' in named and len(named) > 20
    missing = sorted(p for p in named if p.rstrip('/') not in tracked | tracked_dirs)
    assert not missing, f'named but not tracked by git: {missing}'

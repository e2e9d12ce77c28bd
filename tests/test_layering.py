"""The package's layering, read from its source: which area may import which.

Every ``import`` counts, at module level and inside functions alike (a lazy import is still a
dependency). Areas: each subpackage of relnas_zoo, and the modules at its top level (the core).
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'relnas_zoo'


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _imports() -> dict:
    """module -> the relnas_zoo modules it imports (relative imports resolved)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob('*.py')}
    out = {}
    for name, path in modules.items():
        package = name if path.name == '__init__.py' else name.rpartition('.')[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.split('.')[0] == 'relnas_zoo')
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split('.')[:len(package.split('.')) - node.level + 1]
                    target = '.'.join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ''
                if target.split('.')[0] != 'relnas_zoo':
                    continue
                found.add(target)
                found.update(f'{target}.{a.name}' for a in node.names if f'{target}.{a.name}' in modules)
        out[name] = found
    return out


def _area(module: str) -> str:
    parts = module.split('.')
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else 'core'


def _inside(module: str, area: str) -> bool:
    return _area(module) == area


def test_the_predictor_imports_nothing_of_the_search_or_the_experiments():
    bad = sorted((m, t) for m, targets in _imports().items() if _inside(m, 'predictor')
                 for t in targets if _inside(t, 'search') or _inside(t, 'experiments'))
    assert not bad, bad


def test_the_areas_import_each_other_without_a_circle():
    graph = {}
    for m, targets in _imports().items():
        for t in targets:
            if _area(m) != _area(t):
                graph.setdefault(_area(m), set()).add(_area(t))
    assert 'predictor' in graph.get('search', set()) and 'search' in graph.get('experiments', set())  # the read is real

    def reach(start, seen):
        for nxt in graph.get(start, ()):
            if nxt not in seen:
                seen.add(nxt)
                reach(nxt, seen)
        return seen
    circles = sorted(a for a in graph if a in reach(a, set()))
    assert not circles, {a: sorted(graph[a]) for a in circles}


def test_the_core_and_the_data_know_no_algorithm():
    """DESIGN: the network code imports no search and no OpenMMLab; data code knows no algorithm."""
    algorithms = ('search', 'predictor', 'experiments', 'train', 'mm', 'zoo_commands')
    bad = sorted((m, t) for m, targets in _imports().items() if _area(m) in ('core', 'data')
                 for t in targets if _area(t) in algorithms)
    assert not bad, bad

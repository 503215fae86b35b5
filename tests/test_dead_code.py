"""No dead code in the package: vulture finds no name in d2lutils/ that no caller uses.

The callers are the package itself, the benchmarks, the book's scripts and the notebooks' code
cells (chapters and exercise solutions); the tests are not callers, so a function only a test calls
is dead. ``USED_ELSEWHERE`` lists what vulture cannot see being used, each with who uses it.
"""
import json
import pathlib

import vulture

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob('chapters/*.ipynb')) + sorted(ROOT.glob('chapters/exercises/solutions/*.ipynb'))

# (file under d2lutils/, name): who uses it, out of vulture's sight
USED_ELSEWHERE = {
    ('batchnorm.py', 'forward'): 'Gluon calls a Block\'s forward',
    ('distributed.py', 'process_group'): 'the job\'s record of its processes; tests/test_distributed.py '
                                         'proves from it that none is left running',
    ('exercises/checks.py', '_render_traceback_'): 'IPython calls it to show a failed check',
    ('exercises/checks.py', 'begin_cell'): 'the grader writes a call of it into each check cell',
    ('exercises/grading.py', 'from_json'): 'reads grades.json back (tests/test_grader.py); grading.py '
                                           'is left to the grader\'s issue',
    ('exercises/students.py', 'execution_count'): 'nbformat\'s cell field, cleared for students',
    ('plotting.py', 'figure_formats'): 'IPython\'s inline backend trait',
}


def unused(paths, min_confidence=60):
    scan = vulture.Vulture()
    scan.scavenge([str(p) for p in paths])
    return scan.get_unused_code(min_confidence=min_confidence)


def notebook_code(folder):
    """Each notebook's code cells as a .py file in ``folder`` (IPython magics and shell lines
    left out), so vulture sees what the notebooks call."""
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text(encoding='utf-8'))['cells']
        code = '\n\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'code')
        lines = [line for line in code.splitlines() if not line.lstrip().startswith(('%', '!'))]
        (folder / f'{path.stem}.py').write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return folder


def test_no_name_in_the_package_is_unused(tmp_path):
    callers = [ROOT / 'd2lutils', ROOT / 'benchmarks', *ROOT.glob('book/*.py'),
               notebook_code(tmp_path)]
    package = ROOT / 'd2lutils'
    found = {(item.filename.relative_to(package).as_posix(), item.name): item
             for item in unused(callers) if package in item.filename.parents}
    dead = [f'{item.filename.relative_to(ROOT)}:{item.first_lineno}: {item.message}'
            for key, item in sorted(found.items()) if key not in USED_ELSEWHERE]
    assert not dead, 'used by no caller (remove it, or list who uses it in USED_ELSEWHERE):\n' + \
        '\n'.join(dead)
    stale = sorted(set(USED_ELSEWHERE) - set(found))
    assert not stale, f'USED_ELSEWHERE lists names vulture no longer reports: {stale}'


def test_a_function_no_caller_uses_is_found(tmp_path):
    (tmp_path / 'module.py').write_text('def used():\n    return 1\n\n\ndef dead():\n    return 2\n\n\n'
                                        'print(used())\n')
    assert [item.name for item in unused([tmp_path])] == ['dead']

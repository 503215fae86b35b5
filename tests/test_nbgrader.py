"""nbgrader 0.9.6 as docs/teaching.md tells teachers to set it up, against this book's grader.

For each exercise: a course folder with docs/teaching.md's ``nbgrader_config.py`` (copied from it, so
the documented file is the tested one) and README's kernel (installed into the course folder, with
``D2LUTILS_PROFILE=quick``); ``nbgrader generate_assignment`` from the solution notebook;
``nbgrader autograde`` on a right and a wrong submission made from nbgrader's release. Then every
check cell must score the same in nbgrader's gradebook and in ``d2lutils.exercises.grading``, and a text
answer left as handed out must be scored 0 by both. The submissions leave out the pre-activation
notebook's training runs (ungraded cells) to keep the test short. About 2 minutes on a shared
2-core machine.
"""
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from d2lutils.exercises import grading, students

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent  # nbgrader runs alembic, which must be on PATH


def readme_block(first_line):
    """The fenced code block of README.md that starts with ``first_line``."""
    for block in re.findall(r'```\w*\n(.*?)```', (ROOT / 'docs' / 'teaching.md').read_text(), re.S):
        if block.startswith(first_line):
            return block
    raise AssertionError(f'docs/teaching.md has no code block starting with {first_line!r}')


def test_readme_documents_the_setup():
    config = readme_block('# nbgrader_config.py')
    assert "c.Execute.kernel_name = 'resnet-book'" in config and 'c.Execute.timeout' in config
    install = readme_block('.venv/bin/python -m ipykernel install')
    assert '--name resnet-book' in install and '--env D2LUTILS_PROFILE quick' in install


def run(command, cwd, env):
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f'{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}'
    return done


def kernel_env(course):
    """README's kernel, installed into the course folder (not the user's), and nbgrader's PATH."""
    block = readme_block('.venv/bin/python -m ipykernel install')
    install = shlex.split(block.replace('\\\n', ' '))  # the block continues lines with a backslash
    install = [sys.executable] + install[1:]
    install[install.index('--user')] = f'--prefix={course / "env"}'
    env = dict(os.environ, PATH=f'{BIN}{os.pathsep}{os.environ["PATH"]}',
               JUPYTER_PATH=str(course / 'env' / 'share' / 'jupyter'))
    env.pop('D2LUTILS_PROFILE', None)  # the kernel must get the profile from its spec
    run(install, course, env)
    return env


def fill(release, solution, **answers):
    """A submission: nbgrader's release with the solution's answers, or ``answers[grade_id]``."""
    nb = nbformat.read(release, as_version=4)
    solved = grading.graded_cells(nbformat.read(solution, as_version=4))
    for cell in nb.cells:
        meta = students.nbgrader_meta(cell)
        if meta.get('solution'):
            source = answers.get(meta['grade_id'], solved[meta['grade_id']].source)
            cell.source = '\n'.join(line for line in source.split('\n')
                                    if line.strip() not in (students.BEGIN, students.END))
    nb.cells = [c for c in nb.cells if students.USES_SOLUTION not in c.metadata.get('tags', [])]
    return nb


def wrong_answers(solution):
    """One check fails, the other passes; the text answer is left as handed out."""
    cells = grading.graded_cells(nbformat.read(solution, as_version=4))
    handed_out = grading.graded_cells(nbformat.read(students.student_path(solution), as_version=4))
    if solution.stem == 'bottleneck':  # one block too few per stage: ResNet-50's count is wrong
        wrong = {'resnet-from-spec': cells['resnet-from-spec'].source.replace(
            'range(num_blocks - 1)', 'range(num_blocks - 2)')}
        text = 'discuss-bottleneck'
    else:  # no BN-ReLU at the end of the v2 network
        source = cells['small-resnet'].source
        start, end = source.index(students.BEGIN), source.index(students.END)
        wrong = {'small-resnet': source[:start] + 'pass\n        ' + source[end:]}
        text = 'discuss-preact'
    assert all(wrong[k] != cells[k].source for k in wrong), 'the wrong answer is not wrong'
    return {**wrong, text: handed_out[text].source}


@pytest.fixture(scope='module', params=students.solution_paths(), ids=lambda p: p.stem)
def graded(request, tmp_path_factory):
    solution = request.param
    assignment = solution.stem
    course = tmp_path_factory.mktemp(f'course-{assignment}')
    (course / 'nbgrader_config.py').write_text(readme_block('# nbgrader_config.py'))
    env = kernel_env(course)
    (course / 'source' / assignment).mkdir(parents=True)
    shutil.copy(solution, course / 'source' / assignment / solution.name)
    run([sys.executable, '-m', 'nbgrader', 'generate_assignment', assignment], course, env)
    release = course / 'release' / assignment / solution.name
    submissions = {'right': fill(release, solution), 'wrong': fill(release, solution,
                                                                   **wrong_answers(solution))}
    for student, nb in submissions.items():
        folder = course / 'submitted' / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / solution.name)
    run([sys.executable, '-m', 'nbgrader', 'autograde', assignment], course, env)

    theirs = {}
    with Gradebook(f'sqlite:///{course / "gradebook.db"}') as gradebook:
        for student in submissions:
            theirs[student] = {
                grade.cell.name: (grade.score, grade.needs_manual_grade)
                for grade in gradebook.find_submission_notebook(
                    solution.stem, assignment, student).grades}
    ours = {student: grading.grade([course / 'submitted' / student / assignment / solution.name],
                                   course / f'{student}.csv', timeout=300,
                                   echo=lambda *a, **k: None)[0]
            for student in submissions}
    return nbformat.read(release, as_version=4), theirs, ours


def test_release_keeps_the_assignment_id_and_has_no_raises_exception_tags(graded):
    release, _, _ = graded
    assert release.metadata['d2lutils']['assignment'] in ('bottleneck', 'preactivation')
    assert not any(students.RAISES in c.metadata.get('tags', []) for c in release.cells)
    for cell in release.cells:
        if students.is_check_cell(cell):
            assert cell.metadata['editable'] is False and cell.metadata['deletable'] is False


@pytest.mark.parametrize('student', ['right', 'wrong'])
def test_nbgrader_and_this_grader_agree_on_every_check(graded, student):
    _, theirs, ours = graded
    result = ours[student]
    assert result.status == 'graded', result.message
    checks = {c.grade_id: c.points for c in result.cells if c.kind == 'check'}
    assert checks and {k: theirs[student][k][0] for k in checks} == checks
    if student == 'right':
        assert result.points == result.max_points
    else:
        assert 0 < result.points < result.max_points  # one check passes, the other fails


@pytest.mark.parametrize('student', ['right', 'wrong'])
def test_text_answers_agree(graded, student):
    """An answer left as handed out: 0 in nbgrader without a manual grade, 'unanswered' here."""
    _, theirs, ours = graded
    for cell in ours[student].cells:
        if cell.kind == 'check':
            continue
        score, needs_manual_grade = theirs[student][cell.grade_id]
        if student == 'wrong':
            assert (cell.kind, score, needs_manual_grade) == ('unanswered', 0, False)
        else:
            assert cell.kind == 'to grade' and cell.points is None and needs_manual_grade

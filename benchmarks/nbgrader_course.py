"""An nbgrader course set up the way docs/teaching.md tells a teacher to, for a test and a benchmark.

``tests/test_nbgrader.py`` checks that nbgrader and the book's grader give the same points, and
``benchmarks/grading_time.py`` times nbgrader on a class of 30: both need the same course. Its
``nbgrader_config.py`` and kernel command are read from docs/teaching.md's code blocks, so the
documented set-up is the one that runs. The kernel is installed into the course folder, not the
user's Jupyter folder, so nothing outside the course changes.
"""
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import nbformat
from nbgrader.api import Gradebook

from d2lutils.exercises import grading, students

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEACHING = ROOT / 'docs' / 'teaching.md'
BIN = pathlib.Path(sys.executable).parent  # nbgrader runs alembic, which must be on PATH


def teaching_block(first_line):
    """The fenced code block of docs/teaching.md that starts with ``first_line``."""
    for block in re.findall(r'```\w*\n(.*?)```', TEACHING.read_text(), re.S):
        if block.startswith(first_line):
            return block
    raise AssertionError(f'docs/teaching.md has no code block starting with {first_line!r}')


def run(command, cwd, env):
    """Run a command of the course; its output is shown when it fails."""
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f'{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}')
    return done


def kernel_env(course):
    """docs/teaching.md's kernel, installed into the course folder; the environment nbgrader needs."""
    block = teaching_block('.venv/bin/python -m ipykernel install')
    install = shlex.split(block.replace('\\\n', ' '))  # the block continues lines with a backslash
    install = [sys.executable] + install[1:]
    install[install.index('--user')] = f'--prefix={course / "env"}'
    env = dict(os.environ, PATH=f'{BIN}{os.pathsep}{os.environ["PATH"]}',
               JUPYTER_PATH=str(course / 'env' / 'share' / 'jupyter'))
    env.pop('D2LUTILS_PROFILE', None)  # the kernel must get the profile from its spec
    run(install, course, env)
    return env


def create(course, solutions):
    """A course folder with every solution notebook of ``solutions`` released as an assignment named
    after it; returns the environment to run nbgrader in."""
    course = pathlib.Path(course)
    course.mkdir(parents=True, exist_ok=True)
    (course / 'nbgrader_config.py').write_text(teaching_block('# nbgrader_config.py'))
    env = kernel_env(course)
    for solution in solutions:
        (course / 'source' / solution.stem).mkdir(parents=True)
        shutil.copy(solution, course / 'source' / solution.stem / solution.name)
        run([sys.executable, '-m', 'nbgrader', 'generate_assignment', solution.stem], course, env)
    return env


def release(course, solution):
    """The path of nbgrader's release (the students' copy) of ``solution``."""
    return pathlib.Path(course) / 'release' / solution.stem / solution.name


def fill(handout, solution, **answers):
    """A submission: ``handout`` (a notebook) with the solution's answers, or ``answers[grade_id]``,
    written into its answer cells without the solution's BEGIN/END markers."""
    nb = nbformat.from_dict(handout) if isinstance(handout, dict) else nbformat.read(handout, as_version=4)
    solved = grading.graded_cells(nbformat.read(solution, as_version=4))
    for cell in nb.cells:
        meta = students.nbgrader_meta(cell)
        if meta.get('solution'):
            source = answers.get(meta['grade_id'], solved[meta['grade_id']].source)
            cell.source = '\n'.join(line for line in source.split('\n')
                                    if line.strip() not in (students.BEGIN, students.END))
    return nb


def submit(course, solution, student, nb):
    """Put ``nb`` where nbgrader's ``collect`` would: submitted/STUDENT/ASSIGNMENT/NAME.ipynb."""
    folder = pathlib.Path(course) / 'submitted' / student / solution.stem
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / solution.name)
    return folder / solution.name


def autograde(course, solution, env):
    """``nbgrader autograde`` of every submission of the assignment ``solution`` names."""
    run([sys.executable, '-m', 'nbgrader', 'autograde', solution.stem], course, env)


def scores(course, solution, student):
    """{grade id: (score, needs a manual grade)} of one student's notebook in nbgrader's gradebook."""
    with Gradebook(f'sqlite:///{pathlib.Path(course) / "gradebook.db"}') as gradebook:
        notebook = gradebook.find_submission_notebook(solution.stem, solution.stem, student)
        return {grade.cell.name: (grade.score, grade.needs_manual_grade) for grade in notebook.grades}

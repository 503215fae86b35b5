"""benchmarks/grading_time.py's class of 30: what each kind of submission hands in (the timing itself
is run by hand; its record is checked in test_grader.py and shown in the teacher's guide)."""
import sys

import nbformat
import pytest

from benchmarks import nbgrader_course
from d2lutils.exercises import grading, students

sys.path.insert(0, str(nbgrader_course.ROOT / 'benchmarks'))
import grading_time  # noqa: E402

SOLUTION = nbgrader_course.ROOT / 'chapters' / 'exercises' / 'solutions' / 'bottleneck.ipynb'


@pytest.fixture(scope='module')
def made():
    handout = students.student_notebook(nbformat.read(SOLUTION, as_version=4))
    return handout, grading_time.submissions(SOLUTION, handout)


def answer(nb):
    return grading.graded_cells(nb)['bottleneck-block'].source


def test_a_class_of_30_of_four_kinds(made):
    _, made = made
    kinds = [name.split('-')[0] for name in made]
    assert len(made) == 30 and {k: kinds.count(k) for k in kinds} == grading_time.KINDS


def test_each_kind_answers_as_its_name_says(made):
    handout, made = made
    solution = answer(nbformat.read(SOLUTION, as_version=4))
    right, v15, wrong = (answer(made[f'{kind}-00']) for kind in ('right', 'v15', 'wrong'))
    assert students.BEGIN not in right and students.END not in right
    assert [line for line in solution.split('\n') if line.strip() not in (students.BEGIN, students.END)] \
        == right.split('\n')
    assert v15 != right and 'kernel_size=3, strides=strides' in v15 and 'return self.relu(y + x)' in v15
    assert wrong != right and 'return y + x' in wrong
    assert answer(made['unsolved-00']) == answer(handout)  # handed in as handed out

"""nbgrader 0.9.6 as docs/teaching.md tells teachers to set it up, against this book's grader.

One course folder (``benchmarks/nbgrader_course.py``: docs/teaching.md's ``nbgrader_config.py`` and
kernel, with ``D2LUTILS_PROFILE=quick``) releases both exercises with ``nbgrader generate_assignment``
and autogrades one submission of each, made from nbgrader's release: a bottleneck submission with one
check failing, one passing and its text answer left as handed out, and a pre-activation submission
with every answer right. Every check cell must score the same in nbgrader's gradebook and in
``d2lutils.exercises.grading``; the text answer left as handed out must score 0 in both, and an
answered one must wait for a manual grade. The submissions leave out the pre-activation notebook's
training runs (ungraded cells) to keep the test short.
"""
import nbformat
import pytest

from benchmarks import nbgrader_course
from d2lutils.exercises import grading, students

SOLUTIONS = {path.stem: path for path in students.solution_paths()}
# Which submission each exercise gets: between them, a check that fails, checks that pass, a text
# answer left as handed out and one answered.
SUBMISSIONS = {'bottleneck': 'wrong', 'preactivation': 'right'}


def test_teaching_documents_the_setup():
    config = nbgrader_course.teaching_block('# nbgrader_config.py')
    assert "c.Execute.kernel_name = 'resnet-book'" in config and 'c.Execute.timeout' in config
    install = nbgrader_course.teaching_block('.venv/bin/python -m ipykernel install')
    assert '--name resnet-book' in install and '--env D2LUTILS_PROFILE quick' in install


def test_every_exercise_is_submitted():
    assert set(SUBMISSIONS) == set(SOLUTIONS)


def wrong_answers(solution):
    """One check fails (ResNet-50 gets one block too few per stage), the other passes; the text
    answer is left as handed out."""
    cells = grading.graded_cells(nbformat.read(solution, as_version=4))
    handed_out = grading.graded_cells(nbformat.read(students.student_path(solution), as_version=4))
    wrong = {'resnet-from-spec': cells['resnet-from-spec'].source.replace(
        'range(num_blocks - 1)', 'range(num_blocks - 2)')}
    assert wrong['resnet-from-spec'] != cells['resnet-from-spec'].source, 'the wrong answer is not wrong'
    return {**wrong, 'discuss-bottleneck': handed_out['discuss-bottleneck'].source}


@pytest.fixture(scope='module')
def course(tmp_path_factory):
    """{exercise: (release, nbgrader's scores, this grader's result)}, all from one course."""
    course = tmp_path_factory.mktemp('course')
    env = nbgrader_course.create(course, SOLUTIONS.values())
    graded = {}
    for name, student in SUBMISSIONS.items():
        solution = SOLUTIONS[name]
        release = nbgrader_course.release(course, solution)
        answers = wrong_answers(solution) if student == 'wrong' else {}
        nb = nbgrader_course.fill(release, solution, **answers)
        nb.cells = [c for c in nb.cells if students.USES_SOLUTION not in c.metadata.get('tags', [])]
        path = nbgrader_course.submit(course, solution, student, nb)
        nbgrader_course.autograde(course, solution, env)
        ours = grading.grade([path], course / f'{name}.csv', timeout=300, echo=lambda *a, **k: None)[0]
        graded[name] = (nbformat.read(release, as_version=4),
                        nbgrader_course.scores(course, solution, student), ours)
    return graded


@pytest.mark.parametrize('exercise', SUBMISSIONS)
def test_release_keeps_the_assignment_id_and_has_no_raises_exception_tags(course, exercise):
    release, _, _ = course[exercise]
    assert release.metadata['d2lutils']['assignment'] == exercise
    assert not any(students.RAISES in c.metadata.get('tags', []) for c in release.cells)
    for cell in release.cells:
        if students.is_check_cell(cell):
            assert cell.metadata['editable'] is False and cell.metadata['deletable'] is False


@pytest.mark.parametrize('exercise', SUBMISSIONS)
def test_nbgrader_and_this_grader_agree_on_every_check(course, exercise):
    _, theirs, result = course[exercise]
    student = SUBMISSIONS[exercise]
    assert result.status == 'graded', result.message
    checks = {c.grade_id: c.points for c in result.cells if c.kind == 'check'}
    assert checks and {k: theirs[k][0] for k in checks} == checks
    if student == 'right':
        assert result.points == result.max_points
    else:
        assert 0 < result.points < result.max_points  # one check passes, the other fails


@pytest.mark.parametrize('exercise', SUBMISSIONS)
def test_text_answers_agree(course, exercise):
    """An answer left as handed out: 0 in nbgrader without a manual grade, 'unanswered' here; an
    answered one waits for a manual grade in both."""
    _, theirs, ours = course[exercise]
    student = SUBMISSIONS[exercise]
    texts = [cell for cell in ours.cells if cell.kind != 'check']
    assert texts
    for cell in texts:
        score, needs_manual_grade = theirs[cell.grade_id]
        if student == 'wrong':
            assert (cell.kind, score, needs_manual_grade) == ('unanswered', 0, False)
        else:
            assert cell.kind == 'to grade' and cell.points is None and needs_manual_grade

"""The exercises' command line: the students' versions, and grading submitted notebooks.

    python -m d2lutils.exercises              # regenerate every students' version
    python -m d2lutils.exercises --check      # exit 1 if a students' version is out of date
    python -m d2lutils.exercises --grade FILE.ipynb ...  # run submitted notebooks and score them

It lives here, above ``students`` and ``grading``, so that neither imports the other's caller: the
grader uses the generator (a check cell as handed out), never the command line.
"""
import argparse
import os
import pathlib
import sys

from d2lutils import arguments
from d2lutils.exercises import grading, students


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m d2lutils.exercises',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help="don't write; exit 1 if a students' version is out of date")
    parser.add_argument('--folder', default=str(students.EXERCISES),
                        help='the exercises folder (with solutions/ inside); default: %(default)s')
    parser.add_argument('--grade', nargs='+', metavar='NOTEBOOK',
                        help='run these submitted notebooks (student code), each in a sandbox, and '
                             'judge their checks outside it')
    parser.add_argument('--output', default='grades.csv',
                        help='--grade: results file, rewritten after each submission; .json for '
                             'JSON, else CSV; default: %(default)s')
    parser.add_argument('--timeout', type=float, default=600,
                        help='--grade: seconds one cell may run; default: %(default)s')
    parser.add_argument('--profile', default='quick',
                        help='--grade: run profile (the checks do not depend on it); '
                             'default: %(default)s')
    parser.add_argument('--no-sandbox', action='store_true',
                        help='--grade: run submissions without a sandbox where bubblewrap is '
                             'missing (their code runs with your rights: only notebooks you trust)')
    parser.add_argument('--allow-root', action='store_true',
                        help='--grade --no-sandbox: run student code as root (better: never)')
    args = parser.parse_args(argv)
    try:
        if args.grade:
            return _grade(args)
        if args.check:
            stale = students.out_of_date(args.folder)
            for path in stale:
                print(f'out of date: {path} (run: python -m d2lutils.exercises)')
            if not stale:
                print("students' versions are up to date")
            return 1 if stale else 0
        for path, text in students.generate(args.folder).items():
            path.write_text(text, encoding='utf-8')
            print(f'wrote {path}')
        return 0
    except students.SolutionMarkerError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2


def _grade(args):
    """--grade: refuse without a sandbox unless told, grade; exit 1 if a submission failed."""
    print(f'note: {grading.WARNING}', file=sys.stderr)
    if args.no_sandbox:
        print(f'WARNING: {grading.NO_SANDBOX_WARNING}', file=sys.stderr)
        if hasattr(os, 'geteuid') and os.geteuid() == 0 and not args.allow_root:
            print('error: refusing to run student code unsandboxed as root; grade in the sandbox, '
                  'as an ordinary user, or pass --allow-root', file=sys.stderr)
            return 2
    if args.timeout <= 0:
        print(f'error: --timeout must be a positive number of seconds, not {args.timeout:g}',
              file=sys.stderr)
        return 2
    try:  # the teacher's mistakes, said once before any submission runs (not blamed on students)
        arguments.exercises_folder('--folder', args.folder)
        arguments.results_file('--output', args.output)
    except arguments.ArgumentError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    grading.teacher_copies(args.folder)  # a broken teacher's copy stops here, before any kernel
    os.environ['D2LUTILS_PROFILE'] = args.profile  # the kernels inherit it
    try:
        results = grading.grade(args.grade, args.output, folder=args.folder, timeout=args.timeout,
                                sandboxed=not args.no_sandbox)
    except grading.NoSandbox as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    attention = [r for r in results if not r.ok]
    print(f'{len(results)} submissions, {len(attention)} failed; results in {args.output}, '
          f'feedback files in {pathlib.Path(args.output).stem}-feedback/')
    return 1 if attention else 0


if __name__ == '__main__':
    sys.exit(main())

"""The exercises: checks of a student's code, their diagnosis, the students' versions, grading.

``checks`` tests a student's block against the library's reference (``d2lutils.models``) and
``behaviour`` names the edit that explains a difference; ``students`` makes the students' notebooks
from the solutions; ``grading`` runs submitted notebooks and scores their checks; ``__main__`` is
the command line (``python -m d2lutils.exercises``) over the last two. Importing the package loads
none of them (the students' notebooks import ``checks``; the command line needs no MXNet).
"""

"""The book's build scripts (website, slides, teacher's guide, handout, notebook metadata).

Each runs as ``python book/<name>.py``; tests and the scripts themselves import one another as
``book.<name>`` (the repository root on ``sys.path``), so no script loads a sibling by file path.
"""

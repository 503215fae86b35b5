# Two commands do all the set-up: `make book` opens the book, `make test` runs the tests.
# `make html` builds the book as a static website from the notebooks' stored outputs.
# The first of these that runs, unless PYTHON is given: 3.11 is the one CI runs the whole suite on.
PYTHON ?= $(shell for p in python3.11 python3.12 python3.10 python3 python; do \
                    $$p -c '' 2>/dev/null && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
# GPU=1 installs MXNet's CUDA build with the CUDA libraries from PyPI (pyproject's `gpu` extra)
# instead of the CPU build; both install the package `mxnet`, so the other one is removed first.
MXNET_EXTRA := $(if $(GPU),gpu,cpu)
OTHER_MXNET := $(if $(GPU),mxnet,mxnet-cu117)
INSTALLED := $(VENV)/.installed$(if $(GPU),-gpu)
BOOK_INSTALLED := $(VENV)/.installed-book$(if $(GPU),-gpu)
ZH_INSTALLED := $(VENV)/.installed-zh$(if $(GPU),-gpu)
comma := ,
# d2l pins numpy 1.23.5, which has no Python 3.12 build, so on 3.12 pyproject.toml leaves d2l out and
# it is installed here without its pins (on 3.10 and 3.11 pyproject already installed it: a no-op).
D2L := d2l==1.0.3

.PHONY: book test html install install-book teacher handout book-zh html-zh install-zh

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "No python3.12, 3.11 or 3.10 found: install one, or run make PYTHON=/path/to/python3.12"; exit 1; }
	@$(PYTHON) d2lutils/platforms.py $(if $(GPU),--gpu)
	$(PYTHON) -m venv $(VENV)

# Two installs share .venv: `make book` installs what reading needs (pyproject's dependencies and
# MXNet); `make test`, `make html` and `make teacher` add the extras `test` (pytest, nbval, selenium,
# Jupyter Book) and `teacher` (nbgrader). The full one includes the reading one, so it stamps both;
# book/lab.sh turns nbgrader's extensions off, so the student's JupyterLab stays lean either way.
define pip_install
	@$(BIN)/python d2lutils/platforms.py $(if $(GPU),--gpu)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip uninstall --yes --quiet --quiet $(OTHER_MXNET)
	$(BIN)/python -m pip install --quiet -e ".[$(1)$(MXNET_EXTRA)]"
	$(BIN)/python -m pip install --quiet --no-deps $(D2L)
	rm -f $(VENV)/.installed*
endef

$(BOOK_INSTALLED): $(BIN)/python pyproject.toml
	$(call pip_install,)
	touch $@

# `make book-zh` adds the extra `zh` (JupyterLab's Chinese language pack) to the reading install.
$(ZH_INSTALLED): $(BIN)/python pyproject.toml
	$(call pip_install,zh$(comma))
	touch $@ $(BOOK_INSTALLED)

$(INSTALLED): $(BIN)/python pyproject.toml
	$(call pip_install,test$(comma)teacher$(comma)zh$(comma))
	touch $@ $(BOOK_INSTALLED) $(ZH_INSTALLED)

install-book: $(BOOK_INSTALLED)

install-zh: $(ZH_INSTALLED)

install: $(INSTALLED)

book: install-book  # book/lab.sh: root folder, chapter 0, trust, --allow-root as root, no grading tools (tests/test_jupyterlab.py runs it too)
	JUPYTER=$(BIN)/jupyter sh book/lab.sh

test: install
	$(BIN)/python -m pytest

html: install  # needs npm once (MathJax); with zh/ it builds the Chinese website too, in html/zh/
	$(BIN)/python book/build.py

# The Chinese edition (i18n/README.md): zh/ is generated from the English notebooks and i18n/zh_CN/.
book-zh: install-zh  # the Chinese chapters in JupyterLab's Chinese interface (book/lab.sh --zh)
	JUPYTER=$(BIN)/jupyter sh book/lab.sh --zh

html-zh: install  # the Chinese website only: book/_build/html/zh/ (the English one too if never built)
	$(BIN)/python book/build.py --edition zh

teacher: install  # nbgrader and the grader; docs/teaching.md says how to grade and hand out
	@echo "Installed the grading tools in $(VENV). Grade: $(BIN)/python -m d2lutils.exercises --grade FILES; hand out: make handout (docs/teaching.md)"

handout:  # the students' copy: _handout/resnet-book/ and .tar.gz, without solutions or grading tools
	$(PYTHON) book/handout.py

# The classroom (README, "Teaching from the book"). `make slides` builds one offline slide deck per
# chapter and exercise (book/slides.py -> book/_build/slides/index.html; with zh/, the Chinese decks
# too, book/_build/slides/zh/index.html); `make book` already has
# RISE's slideshow button (jupyterlab-rise). `make guide` rewrites the teacher's guide
# (chapters/teachers_guide.ipynb) from the project's measurements, then the Chinese edition's
# (zh/chapters/teachers_guide.ipynb, with the rest of zh/: book/i18n.py generate, which refuses while
# an English sentence waits for its translation).
.PHONY: slides guide
slides: install
	$(BIN)/python book/slides.py
	if [ -d zh/chapters ]; then $(BIN)/python book/slides.py --zh; fi

guide: install
	$(BIN)/python book/teachers_guide.py
	$(BIN)/python book/i18n.py generate

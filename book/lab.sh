#!/bin/sh
# Open the book in JupyterLab: the one command line behind `make book`, the conda route in the README
# and tests/test_jupyterlab.py, so that the three cannot drift apart.
#
#     sh book/lab.sh [--zh] [more jupyter-lab options]   # JUPYTER=path/to/jupyter, else the one on PATH
#
# --zh (`make book-zh`): the Chinese edition, zh/chapters (book/i18n.py generates it), in JupyterLab's
# Chinese interface: book/jupyter-zh/ is put first on Jupyter's config path, and its
# labconfig/default_setting_overrides.json makes zh_CN the default language (a reader's own choice
# in Settings > Language still wins); the language pack is pyproject's `zh` extra.
#
# - The server's root is the repository, not chapters/: the chapters' diagrams (../img/...), the
#   README and d2lutils/ are then reachable from the pages and the file browser. It opens chapter 0.
# - As root (Docker containers, classroom VMs, cloud notebooks) JupyterLab refuses to start without
#   --allow-root; it is added only then.
# - JupyterLab draws a stored SVG figure only from a notebook the user trusts; an untrusted one shows
#   "<Figure size ...>" text where the chapter talks about "the left plot". So the notebooks under
#   chapters/ are signed first, in the user's trust database (JUPYTER_DATA_DIR), on every start:
#   after a `git pull` the new versions are signed too. A notebook a student edits and saves in
#   JupyterLab is signed by JupyterLab itself on saving, so signing it again changes nothing. What it
#   would trust is a notebook put in chapters/ from elsewhere: keep notebooks from others outside
#   chapters/, where they stay untrusted until you run them.
# - A student's JupyterLab shows what reading needs. book/jupyter/ is put first on Jupyter's config
#   path: it turns off nbgrader's server and lab extensions, which `make test` and `make teacher`
#   install into the same environment (the student would otherwise see an Nbgrader menu, a Validate
#   button, a Create Assignment panel and "No nbgrader_config.py file found" in the log), and
#   JupyterLab's "get notified about official Jupyter news?" pop-up, which covers outputs. It also
#   turns off jupyter-lsp's search for language servers (none is installed, and the editor's LSP
#   features are off by default): at every start it ran npm several times in a background thread,
#   and a server asked to stop waits for that thread before it exits.
#   Its jupyter_server_config.py hands each notebook out with the version of the Python the kernel runs
#   on, so that a chapter executed on another Python does not open modified (●).
#   A teacher grading with nbgrader starts JupyterLab in the course folder, not through this script.
set -eu
cd "$(dirname "$0")/.."
JUPYTER=${JUPYTER:-jupyter}
export JUPYTER_CONFIG_PATH="$PWD/book/jupyter${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
CHAPTERS=chapters
if [ "${1:-}" = "--zh" ]; then
  shift
  CHAPTERS=zh/chapters
  export JUPYTER_CONFIG_PATH="$PWD/book/jupyter-zh:$JUPYTER_CONFIG_PATH"
  if [ ! -f "$CHAPTERS/00_how_to_use.ipynb" ]; then
    echo "book/lab.sh --zh: no Chinese chapters in zh/chapters; make them with: python book/i18n.py generate" >&2
    exit 1
  fi
fi

# every notebook under chapters/ (a class may hand out the book without the exercises' solutions)
find "$CHAPTERS" -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' -exec "$JUPYTER" trust {} +

if [ "$(id -u)" = 0 ]; then
  set -- --allow-root "$@"
fi
exec "$JUPYTER" lab --ServerApp.root_dir=. "$@" "$CHAPTERS/00_how_to_use.ipynb"

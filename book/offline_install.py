"""Try the teacher's guide's offline route for a lab without internet, and record what happened.

    python book/offline_install.py      # minutes: downloads wheels, installs them with no network

1. With the network: `pip download` every wheel the book installs (`.[cpu]`, d2l 1.0.3 without
   its dependencies, and setuptools to build the book's own package) into a wheelhouse.
2. Without it: in a network namespace with only the loopback (`unshare --net`, Linux, as root), a
   fresh virtual environment installs from the wheelhouse only (`pip install --no-index
   --find-links`), imports d2lutils, MXNet and d2l, finds the RISE extension, and runs chapter 3 in
   the `quick` profile with nbconvert.
3. Writes book/offline_install.json (committed), which the teacher's guide shows. Its `inputs` is a
   SHA-256 of what the book installs (pyproject's dependencies and its `cpu` extra): the
   guide's test says the record is out of date when they change.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import shutil
import subprocess
import sys
import tempfile
try:
    import tomllib
except ImportError:  # Python 3.10: pytest and import-linter depend on tomli there
    import tomli as tomllib
from pathlib import Path

BOOK_DIR = Path(__file__).resolve().parent
REPO = BOOK_DIR.parent
RECORD = BOOK_DIR / "offline_install.json"
EXTRAS = ("cpu",)
D2L = "d2l==1.0.3"          # the Makefile installs it with --no-deps (Python 3.12 needs that)
CHAPTER = "chapters/03_residual_block.ipynb"


def inputs() -> str:
    """SHA-256 of what the offline route installs: pyproject's dependencies and extras EXTRAS."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {"dependencies": project["dependencies"],
              **{e: project["optional-dependencies"][e] for e in EXTRAS}}
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def run(cmd: list[str], offline: bool = False, **kwargs) -> subprocess.CompletedProcess:
    if offline:  # a namespace of its own: only the loopback, which Jupyter's kernels talk over
        cmd = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *cmd]
    print("offline-install: " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, **kwargs)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {r.returncode}):\n{(r.stderr or r.stdout)[-3000:]}")
    return r


def main() -> int:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        print("offline-install: needs unshare (util-linux), ip (iproute2) and root, to install with no "
              "network", file=sys.stderr)
        return 1
    spec = f".[{','.join(EXTRAS)}]"
    with tempfile.TemporaryDirectory(prefix="offline-install-") as tmp:
        wheels, venv = Path(tmp) / "wheelhouse", Path(tmp) / "venv"
        py = sys.executable
        run([py, "-m", "pip", "download", "--quiet", "--dest", str(wheels), spec, "setuptools>=77"])
        run([py, "-m", "pip", "download", "--quiet", "--dest", str(wheels), "--no-deps", D2L])
        files = sorted(wheels.iterdir())
        megabytes = round(sum(f.stat().st_size for f in files) / 2**20)
        run(["true"], offline=True)  # fails here, not half-way, where namespaces are not allowed
        run([py, "-m", "venv", str(venv)], offline=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index",
               "--find-links", str(wheels)]
        run(pip + ["-e", spec], offline=True)
        run(pip + ["--no-deps", D2L], offline=True)
        versions = run([str(venv / "bin" / "python"), "-c",
                        "import d2lutils, mxnet, d2l; print(mxnet.__version__, d2l.__version__)"],
                       offline=True).stdout.split()
        extensions = run([str(venv / "bin" / "jupyter"), "labextension", "list"], offline=True)
        if "jupyterlab-rise" not in extensions.stdout + extensions.stderr:
            raise RuntimeError("the offline environment has no jupyterlab-rise extension")
        run(["env", "D2LUTILS_PROFILE=quick", str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook",
             "--execute", CHAPTER, "--output-dir", tmp], offline=True, timeout=900)
    record = {
        "date": dt.date.today().isoformat(),
        "system": f"{platform.system()} {platform.machine()}, {platform.freedesktop_os_release().get('PRETTY_NAME', '')}".strip(", "),
        "python": platform.python_version(),
        "wheels": len(files),
        "megabytes": megabytes,
        "offline": "in a network namespace with only the loopback interface (unshare --net)",
        "ran": (f"imported d2lutils, MXNet {versions[0]} and d2l {versions[1]}, found the RISE extension, "
                f"and ran {CHAPTER} in the quick profile (nbconvert --execute)"),
        "result": "passed",
        "inputs": inputs(),
    }
    RECORD.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"offline-install: passed; wrote {RECORD.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

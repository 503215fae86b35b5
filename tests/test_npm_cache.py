"""book/build.py's npm cache (MathJax for the book, reveal.js for the slides): fetched once, checked
against its pinned hash, and safe when several builds fetch at once, as the suite's parallel workers do
(the English and Chinese decks and the website). npm is replaced by a stand-in that writes a package
slowly, so the test needs no registry and the builds overlap."""
from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from book import build

REPO = Path(__file__).resolve().parents[1]
FILES = 300  # enough that copying the package takes a while, so overlapping builds collide


def fake_package() -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for k in range(FILES):
            body = f"// file {k}\n".encode() * 50
            info = tarfile.TarInfo(f"package/es5/f{k:03d}.js")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return data.getvalue()


@pytest.fixture()
def fake_npm(tmp_path, monkeypatch) -> str:
    """A stand-in `npm pack` on PATH that writes the package slowly; the package's integrity string."""
    package = fake_package()
    (tmp_path / "pkg.tgz").write_bytes(package)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys, time
        dest = sys.argv[sys.argv.index("--pack-destination") + 1]
        time.sleep(0.3)  # the registry's round trip: long enough for the other builds to start
        data = open({str(tmp_path / "pkg.tgz")!r}, "rb").read()
        open(dest + "/fakepkg-1.0.0.tgz", "wb").write(data)
        """))
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return "sha512-" + base64.b64encode(hashlib.sha512(package).digest()).decode()


BUILD = """
import shutil, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from book import build
cache, out, integrity = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
target = build.fetch_npm_package("fakepkg", "1.0.0", integrity, ["es5/"], cache)
shutil.copytree(target, out)  # what a deck's build does with reveal.js and MathJax
print(len(list((out / "es5").iterdir())))
"""


def test_builds_that_fetch_at_once_each_get_the_whole_package(fake_npm, tmp_path):
    cache = tmp_path / "cache"
    script = BUILD.format(repo=str(REPO))
    runs = [subprocess.Popen([sys.executable, "-c", script, str(cache), str(tmp_path / f"out{k}"), fake_npm],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(4)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in runs]
    for rc, out, err in results:
        assert rc == 0 and out.split()[-1:] == [str(FILES)], f"a build that fetched beside others failed:\n{err[-2000:]}"
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == \
        ["fakepkg-1.0.0", "fakepkg-1.0.0.tgz"]


def test_a_package_that_does_not_match_its_pinned_hash_is_refused(fake_npm, tmp_path):
    wrong = "sha512-" + base64.b64encode(hashlib.sha512(b"another package").digest()).decode()
    with pytest.raises(build.BookError, match="is not the pinned"):
        build.fetch_npm_package("fakepkg", "1.0.0", wrong, ["es5/"], tmp_path / "cache")
    assert not (tmp_path / "cache" / "fakepkg-1.0.0").exists()
    # the right hash is then fetched anew (the refused file was removed)
    target = build.fetch_npm_package("fakepkg", "1.0.0", fake_npm, ["es5/"], tmp_path / "cache")
    assert len(list((target / "es5").iterdir())) == FILES and (target / ".complete").is_file()


def test_a_python_without_tarfiles_data_filter_unpacks_the_package(fake_npm, tmp_path, monkeypatch):
    # Python before 3.10.12 and 3.11.4 (Debian 12's python3.11 is 3.11.2) has no filter= for extractall
    import tarfile
    monkeypatch.delattr(tarfile, "data_filter", raising=False)  # 3.11.2 has none to remove
    real = tarfile.TarFile.extractall
    monkeypatch.setattr(tarfile.TarFile, "extractall",
                        lambda self, path=".", members=None, *, numeric_owner=False: real(self, path, members))
    target = build.fetch_npm_package("fakepkg", "1.0.0", fake_npm, ["es5/"], tmp_path / "cache")
    assert len(list((target / "es5").iterdir())) == FILES

"""numba's cache folder follows fastrl's numba sources, so a kernel inlining another file's kernel never loads
a stale build."""

import os
import shutil
from pathlib import Path

from fastrl import _numba_cache


def folder_for(package: Path, cache: Path, monkeypatch) -> Path:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    _numba_cache.configure(package)
    return Path(os.environ["NUMBA_CACHE_DIR"])


def test_a_change_to_a_numba_source_changes_the_folder(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    shutil.copytree(Path(_numba_cache.__file__).parent / "ops" / "sumtree", package)
    first = folder_for(package, tmp_path / "cache", monkeypatch)
    assert first == folder_for(package, tmp_path / "cache", monkeypatch)  # same sources, same folder
    (package / "numba.py").write_text((package / "numba.py").read_text() + "\n# changed\n")
    second = folder_for(package, tmp_path / "cache", monkeypatch)
    assert second != first and second.is_dir()
    (package / "notes.py").write_text("# a file without kernels\n")
    assert folder_for(package, tmp_path / "cache", monkeypatch) == second


def test_a_users_setting_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    _numba_cache.configure()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")

"""A wheel ships the CUDA C sources: built, installed into a fresh venv and asked from there.

The sources stay in ``kernels/`` at the repository's top level; pyproject.toml maps that folder to
``fastrl/kernels/`` in the wheel, and ``fastrl.ops._cuda.kernel_file`` finds them there. The installed fastrl,
not the source tree, must answer: the check runs from an empty working directory, without PYTHONPATH or
FASTRL_KERNELS_DIR, and asserts where ``fastrl`` was imported from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "kernels"
#: What the build reads (pyproject.toml names README.md as the readme). Copied so that building leaves no
#: build/ or egg-info in the working tree and two runs cannot meet.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "fastrl", "kernels")

#: Run by the venv's interpreter: where fastrl came from, and every file of kernels/ found through the same
#: function the CUDA launchers use.
PROBE = """
import json, sys
import fastrl
from fastrl.ops import _cuda
names = json.loads(sys.argv[1])
found = {n: str(_cuda.kernel_file(n)) for n in names}
print(json.dumps({"fastrl": fastrl.__file__, "kernels_dir": str(_cuda.KERNELS_DIR), "found": found}))
"""


def _run(args, **kw):
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv holding the wheel built from this tree; the probe's answer and the venv's paths."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = tmp / "dist"
    # no build isolation: setuptools is already here, and the machine may have no index to fetch it from
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
          str(src)])
    (wheel,) = dist.glob("fastrl-*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    # This interpreter's site-packages (torch, numpy, pip), where this test runs from a venv too (which
    # --system-site-packages would skip), go after the venv's own as plain path entries: their .pth files,
    # an editable fastrl's among them, are not run. The pip that runs is this one, installing into the venv.
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    site_dir = Path(purelib.stdout.strip())
    outer = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    (site_dir / "_outer_site.pth").write_text("".join(f"{p}\n" for p in outer))
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)])

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FASTRL_KERNELS_DIR")}
    cwd = tmp / "elsewhere"
    cwd.mkdir()
    names = sorted(p.name for p in KERNELS.iterdir() if p.suffix in (".cu", ".cuh"))
    probe = _run([str(python), "-c", PROBE, json.dumps(names)], cwd=cwd, env=env)
    answer = json.loads(probe.stdout.strip().splitlines()[-1])
    return {"wheel": wheel, "venv": venv, "names": names, **answer}


@pytest.mark.slow
def test_wheel_holds_every_kernel_source(installed):
    with zipfile.ZipFile(installed["wheel"]) as z:
        shipped = sorted(Path(n).name for n in z.namelist() if n.startswith("fastrl/kernels/"))
    assert shipped == installed["names"]
    assert any(n.endswith(".cuh") for n in shipped) and any(n.endswith(".cu") for n in shipped)


@pytest.mark.slow
def test_installed_fastrl_finds_every_kernel_source(installed):
    venv = installed["venv"].resolve()
    fastrl_file = Path(installed["fastrl"]).resolve()
    assert venv in fastrl_file.parents, f"fastrl was imported from {fastrl_file}, not from the venv {venv}"
    assert ROOT not in fastrl_file.parents
    kernels_dir = Path(installed["kernels_dir"]).resolve()
    assert kernels_dir == fastrl_file.parent / "kernels"
    assert sorted(installed["found"]) == installed["names"]
    for name, path in installed["found"].items():
        path = Path(path).resolve()
        assert path.parent == kernels_dir
        assert path.read_bytes() == (KERNELS / name).read_bytes(), f"{name} differs from kernels/{name}"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nvcc") is None,
                    reason="nvcc is not on PATH: the installed kernel is not compile-checked")
def test_installed_kernel_compiles(installed, tmp_path):
    # td_loss.cu includes common.cuh: the include resolves in the installed folder too
    source = Path(installed["found"]["td_loss.cu"])
    assert '#include "common.cuh"' in source.read_text()
    out = tmp_path / "td_loss.ptx"
    _run(["nvcc", "--ptx", "-arch=sm_90", "-std=c++17", f"-I{source.parent}", str(source), "-o", str(out)],
         cwd=tmp_path)
    assert out.stat().st_size > 0

"""Every CUDA C source in kernels/ compiles for Hopper with nvcc (PTX only: no GPU needed)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from fastrl.ops._cuda import KERNELS_DIR

SOURCES = sorted(KERNELS_DIR.glob("*.cu"))


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on PATH")
@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_compiles_to_ptx(source, tmp_path):
    out = tmp_path / (source.stem + ".ptx")
    result = subprocess.run(
        ["nvcc", "--ptx", "-arch=sm_90", "-std=c++17", f"-I{KERNELS_DIR}", str(source), "-o", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"nvcc failed on {source.name}:\n{result.stderr}"
    assert out.stat().st_size > 0

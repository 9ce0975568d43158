"""Run CUDA C from ``kernels/`` on torch tensors through CuPy.

Kernels are compiled at run time by NVRTC (``cupy.RawModule``) once per process and source file, launched on
torch's current stream, and see torch's memory through DLPack (no copies). Each op's ``cuda.py`` is a thin
launcher over ``kernel()`` and ``launch()``.

The sources stay in ``kernels/`` at the repository's top level. A wheel ships that folder as the package
data ``fastrl/kernels/`` (pyproject.toml maps it there), found through ``importlib.resources``; in a source
checkout or an editable install, where ``fastrl/kernels/`` does not exist, ``kernels/`` beside the package is
used.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
from pathlib import Path

import torch

from fastrl.devices import cuda_index


def kernels_dir() -> Path:
    """The folder of the CUDA C sources (``*.cu``, ``*.cuh``), in this order:

    1. ``FASTRL_KERNELS_DIR``, where it is set;
    2. ``fastrl/kernels/`` in the installed package, where a wheel puts them (package data);
    3. ``kernels/`` at the root of the source tree (a checkout, or an editable install).
    """
    if "FASTRL_KERNELS_DIR" in os.environ:
        return Path(os.environ["FASTRL_KERNELS_DIR"])
    packaged = importlib.resources.files("fastrl") / "kernels"
    # a pip-installed wheel is unpacked on a file system: the Traversable is a Path, which NVRTC's -I needs
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "kernels"


#: Where the sources were found at import (see ``kernels_dir``).
KERNELS_DIR = kernels_dir()

NVRTC_OPTIONS = ("--std=c++17", "-default-device")


def kernel_file(filename: str) -> Path:
    """The path of ``filename`` (e.g. ``td_loss.cu``, ``common.cuh``) in ``KERNELS_DIR``; raises if absent."""
    path = KERNELS_DIR / filename
    if not path.is_file():
        raise FileNotFoundError(f"CUDA source {path} not found (set FASTRL_KERNELS_DIR to the kernels/ folder)")
    return path


def source_path(name: str) -> Path:
    """The path of ``kernels/<name>.cu``."""
    return kernel_file(f"{name}.cu")


@functools.cache
def _module(name: str, device_index: int):
    import cupy

    with cupy.cuda.Device(device_index):
        path = source_path(name)
        return cupy.RawModule(code=path.read_text(), options=(*NVRTC_OPTIONS, f"-I{path.parent}"),
                              backend="nvrtc")


def kernel(source: str, function: str, device: torch.device):
    """The compiled ``extern "C"`` function ``function`` of ``kernels/<source>.cu`` for ``device``."""
    index = cuda_index(device)
    return _module(source, index).get_function(function)


def as_cupy(t: torch.Tensor):
    """A CuPy view of a CUDA tensor (DLPack, zero copy)."""
    import cupy

    if t.device.type != "cuda":
        raise ValueError(f"expected a CUDA tensor, got one on {t.device}")
    return cupy.from_dlpack(t.detach())


def launch(fn, grid: int | tuple, block: int | tuple, args: tuple, device: torch.device) -> None:
    """Launch ``fn`` on torch's current stream of ``device``. Tensors in ``args`` go through DLPack."""
    import cupy

    index = cuda_index(device)
    stream = torch.cuda.current_stream(index)
    converted = tuple(as_cupy(a) if isinstance(a, torch.Tensor) else a for a in args)
    with cupy.cuda.Device(index), cupy.cuda.ExternalStream(stream.cuda_stream, index):
        fn(grid if isinstance(grid, tuple) else (grid,), block if isinstance(block, tuple) else (block,),
           converted)


def blocks(n: int, threads: int) -> int:
    return max(1, (n + threads - 1) // threads)

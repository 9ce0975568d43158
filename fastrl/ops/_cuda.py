"""Run CUDA C from ``kernels/`` on torch tensors through CuPy.

Kernels are compiled at run time by NVRTC (``cupy.RawModule``) once per process and source file, launched on
torch's current stream, and see torch's memory through DLPack (no copies). Each op's ``cuda.py`` is a thin
launcher over ``kernel()`` and ``launch()``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

#: Where the .cu sources live: ``kernels/`` at the repository root, or ``FASTRL_KERNELS_DIR``.
KERNELS_DIR = Path(os.environ.get("FASTRL_KERNELS_DIR", Path(__file__).resolve().parents[2] / "kernels"))

NVRTC_OPTIONS = ("--std=c++17", "-default-device")


def source_path(name: str) -> Path:
    path = KERNELS_DIR / f"{name}.cu"
    if not path.is_file():
        raise FileNotFoundError(f"CUDA source {path} not found (set FASTRL_KERNELS_DIR to the kernels/ folder)")
    return path


@functools.cache
def _module(name: str, device_index: int):
    import cupy

    with cupy.cuda.Device(device_index):
        code = source_path(name).read_text()
        return cupy.RawModule(code=code, options=(*NVRTC_OPTIONS, f"-I{KERNELS_DIR}"), backend="nvrtc")


def kernel(source: str, function: str, device: torch.device):
    """The compiled ``extern "C"`` function ``function`` of ``kernels/<source>.cu`` for ``device``."""
    index = device.index if device.index is not None else torch.cuda.current_device()
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

    index = device.index if device.index is not None else torch.cuda.current_device()
    stream = torch.cuda.current_stream(index)
    converted = tuple(as_cupy(a) if isinstance(a, torch.Tensor) else a for a in args)
    with cupy.cuda.Device(index), cupy.cuda.ExternalStream(stream.cuda_stream, index):
        fn(grid if isinstance(grid, tuple) else (grid,), block if isinstance(block, tuple) else (block,),
           converted)


def blocks(n: int, threads: int) -> int:
    return max(1, (n + threads - 1) // threads)

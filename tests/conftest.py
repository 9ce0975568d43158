"""Shared test set-up.

Tests marked ``gpu`` are skipped, with the reason shown, where torch sees no CUDA; there Triton runs in its
interpreter (``TRITON_INTERPRET=1``) so that every Triton kernel is still tested against its reference.
"""

from __future__ import annotations

import os

import pytest
import torch

# Without a GPU, Triton kernels run on CPU tensors through Triton's interpreter. Set before triton is imported.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


def pytest_collection_modifyitems(config, items):
    # Slow tests first (the order within each group kept): with xdist's workers, a long test started last
    # would hold the whole run while the other workers idle.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; torch.cuda.is_available() is False here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)

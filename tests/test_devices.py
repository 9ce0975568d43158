"""fastrl.devices: the one rule that gives a bare "cuda" the current device's index."""

from __future__ import annotations

import pytest
import torch

from fastrl.devices import cuda_index, with_index


def test_a_cpu_device_is_left_as_named():
    assert with_index("cpu") == torch.device("cpu")
    assert with_index(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.gpu
def test_a_bare_cuda_device_gets_the_current_index_and_matches_what_tensors_report():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    device = with_index("cuda")
    assert device == torch.empty(1, device="cuda").device
    assert cuda_index("cuda") == torch.cuda.current_device()
    assert with_index(f"cuda:{device.index}") == device

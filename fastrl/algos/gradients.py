"""The gradient step's one shared piece: clip the global norm and keep the largest norm seen.

Every learner logs ``grad_norm``, the largest global gradient norm (before clipping) since the last log row. The
runner stops the run at the first row where it is not finite (``Run._check_finite``), so a learner that diverges
is named at the step it did, even when its loss is still finite and ``--max-grad-norm 0`` turns clipping off.
The peak is a diagnostic, not state: it is not checkpointed, so it changes no checkpoint's layout.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class GradNormPeak:
    """The largest global gradient norm since the last ``take()``, kept on the device (no host sync per step)."""

    def __init__(self, device: torch.device | str):
        self.peak = torch.zeros((), device=device)

    def clip(self, params: Iterable[torch.Tensor], max_norm: float) -> None:
        """Clip the gradients of ``params`` to global norm ``max_norm`` (0: no clipping) and note their norm.

        ``torch.maximum`` propagates NaN, so one non-finite norm in an interval shows in its row."""
        params = [p for p in params if p.grad is not None]
        if max_norm > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params], foreach=True)
        torch.maximum(self.peak, norm.detach().to(self.peak.dtype), out=self.peak)

    def note(self, norm: float) -> None:
        """A norm computed elsewhere (the DQN learner's fused CPU update); a NaN sticks, as in ``clip``."""
        peak = float(self.peak)
        if norm != norm or norm > peak:
            self.peak.fill_(norm)

    def take(self) -> float:
        """The peak since the last call (one host read), and reset it."""
        value = float(self.peak)
        self.peak.zero_()
        return value

"""The UNREAL section: the auxiliary tasks of Jaderberg et al. (2017) on the A3C-LSTM agent of the a3c section."""

from __future__ import annotations

from dataclasses import dataclass

from fastrl.config.fields import ConfigError, require_int, require_number


@dataclass(frozen=True)
class UnrealConfig:
    """UNREAL's auxiliary tasks, each on or off alone, learned from a small replay of each worker's own frames.
    The base agent (workers, t_max, optimizer, LSTM, entropy, value weight) is the a3c section's A3C."""

    pixel_control: bool = True
    """pixel control: n-step Q-learning of, per cell of a grid over the frame, the pseudo-reward of the mean
    absolute change of its pixels, on replayed sequences"""
    pixel_control_coef: float = 0.05
    """λ_PC: weight of the pixel-control loss (the paper drew it from [0.01, 0.1])"""
    pixel_control_gamma: float = 0.9
    """discount of the pixel-control Q-learning"""
    pixel_cell: int = 4
    """side of a pixel-control cell in pixels (the paper: 4x4 cells over 80x80 frames, a 20x20 grid); the
    frame's height and width must be multiples of it"""
    pixel_control_channels: int = 32
    """channels of the pixel-control head's map before its deconvolutions"""
    reward_prediction: bool = True
    """reward prediction: classify the next reward as zero, positive or negative from the last reward_frames
    frames, sampled from the replay with rewarding and non-rewarding sequences 50/50"""
    reward_prediction_coef: float = 1.0
    """λ_RP: weight of the reward-prediction loss"""
    reward_frames: int = 3
    """frames the reward predictor sees (the paper's k = 3)"""
    value_replay: bool = True
    """value-function replay: the value loss again, on replayed sequences"""
    value_replay_coef: float = 1.0
    """λ_VR: weight of the value-replay loss, relative to the a3c section's value loss weight"""
    replay_frames: int = 2000
    """frames each worker keeps in its own replay (the paper's 2000); the auxiliary tasks train once it is full"""
    replay_sequence: int = 20
    """longest replayed sequence for pixel control and value replay (shorter where an episode ends)"""

    def __post_init__(self):
        for name in ("pixel_control_coef", "reward_prediction_coef", "value_replay_coef"):
            require_number(self, name, low=0.0)
        require_number(self, "pixel_control_gamma", low=0.0, high=1.0)
        for name in ("pixel_cell", "pixel_control_channels", "reward_frames", "replay_sequence"):
            require_int(self, name, least=1)
        require_int(self, "replay_frames", least=2)
        if self.replay_frames <= max(self.replay_sequence, self.reward_frames):
            raise ConfigError(f"--replay-frames {self.replay_frames}: expected more than --replay-sequence "
                              f"{self.replay_sequence} and --reward-frames {self.reward_frames}")

    @property
    def tasks(self) -> tuple[str, ...]:
        """The auxiliary tasks switched on, in the order their losses are reported."""
        return tuple(name for name in ("pixel_control", "value_replay", "reward_prediction") if getattr(self, name))

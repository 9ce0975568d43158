"""Which torso a learner builds (``network``: auto, mlp, nature_cnn, der, minatar), and the check that the env fits it.

``auto`` never picks ``minatar``: only the DQN and PPO learners build that torso, and the others resolve ``auto``
here too."""

from __future__ import annotations

from fastrl.config.fields import ConfigError


def network_for(learner, observation_shape: tuple[int, ...]) -> str:
    """The torso to build: the learner config's ``network``, with ``auto`` resolved by the observation's shape."""
    if learner.network != "auto":
        return learner.network
    return "nature_cnn" if len(observation_shape) == 3 and observation_shape[1:] == (84, 84) else "mlp"


def torso_fits(learner, observation_space, env_id: str, where: str) -> None:
    """The Nature CNN and data-efficient Rainbow's CNN need stacked 84x84 frames; MinAtar's torso, boards
    [C, H, W] at least 3x3 (its 3x3 convolution has no padding)."""
    shape = tuple(observation_space.shape or ())
    network = network_for(learner, shape)
    names = {"nature_cnn": "the Nature CNN", "der": "data-efficient Rainbow's CNN"}
    if network in names and (len(shape) != 3 or shape[1:] != (84, 84)):
        raise ConfigError(f"{where}: {names[network]} (--network {network}) needs stacked 84x84 frames "
                          f"[C, 84, 84], but {env_id} observes shape {shape}; use --network mlp")
    if network == "minatar" and (len(shape) != 3 or min(shape[1:]) < 3):
        raise ConfigError(f"{where}: MinAtar's torso (--network minatar) needs boards [C, H, W] of at least 3x3 "
                          f"(MinAtar's [C, 10, 10]), but {env_id} observes shape {shape}; use --network mlp")

"""Which torso a learner builds (``network``: auto, mlp, nature_cnn), and the check that the env fits it."""

from __future__ import annotations

from fastrl.config.fields import ConfigError


def network_for(learner, observation_shape: tuple[int, ...]) -> str:
    """The torso to build: the learner config's ``network``, with ``auto`` resolved by the observation's shape."""
    if learner.network != "auto":
        return learner.network
    return "nature_cnn" if len(observation_shape) == 3 and observation_shape[1:] == (84, 84) else "mlp"


def torso_fits(learner, observation_space, env_id: str, where: str) -> None:
    """The Nature CNN needs stacked 84x84 frames."""
    shape = tuple(observation_space.shape or ())
    if network_for(learner, shape) == "nature_cnn" and (len(shape) != 3 or shape[1:] != (84, 84)):
        raise ConfigError(f"{where}: the Nature CNN (--network nature_cnn) needs stacked 84x84 frames "
                          f"[C, 84, 84], but {env_id} observes shape {shape}; use --network mlp")

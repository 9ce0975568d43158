"""``fastrl bench peers``: fastrl beside Stable-Baselines3 and CleanRL at the peer's own settings, in alternating
rounds.

Each case is a peer's learner with the peer's own settings and the fastrl config with the same settings:
- SB3's ``DQN`` and ``TD3`` with their defaults, as a user constructs them (one env, SB3's batch size, network,
  update frequency and learning start), and its ``PPO`` with the RL Zoo's Atari recipe (8 envs);
- CleanRL's ``ppo_atari_envpool.py``, its own file unmodified (``fastrl.benchmarks.cleanrl_peer``), at its
  defaults (8 envpool envs x 128 steps).

Round by round, each side trains for the same number of env steps after its learning start, and its env
steps/s are taken:

- fastrl: the median rate of its log rows after the fill (``fastrl.benchmarks.train._end_to_end``, the loop
  that ``fastrl train`` runs);
- SB3: ``model.learn(steps)`` timed, on a model that has passed its learning start, in this process (the same
  allocator settings and torch build);
- CleanRL: its script in a child process with the same allocator settings, its rate over its iterations after
  the first.

Beside them, fastrl's update alone (learner-only updates/s) and the compute roofline of that update on the same
torch threads (``fastrl.benchmarks.roofline``: FLOPs per update over the matmul FLOP rate at the networks'
shapes), with ``fraction_of_roofline``: the update is compute-bound at these sizes (TD3), so this says how close
it runs to what the CPU's matrix products allow.

Each side runs on its own default torch threads (fastrl: the config's ``torch_threads``; the peers: torch's
default), recorded in the rows. The records give each round's rates, and the median ratio (``ratio_vs_peer``).

The SB3 side needs ``./install.sh peers``; CleanRL's needs only envpool and tensorboard; the tests never need
either.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import tyro

from fastrl import records
from fastrl.config import DDPGConfig, DQNConfig, EnvConfig, ReplayConfig, RunConfig
from fastrl.hardware import torch_threads

SUITE = "peers"


@dataclass(frozen=True)
class PeerCase:
    """One peer's learner at its own settings, and fastrl at the same settings."""

    env_id: str
    steps: int
    """env steps per round and side (after the learning start)"""
    fastrl: Callable[[], RunConfig]
    peer: str
    """sb3 or cleanrl"""
    start: Callable[[int], Callable[[int], float]]
    """seed -> the peer past its learning start, as a function of env steps to the env steps/s it trains at"""


#: what a measured run leaves out: logs beyond its metrics, evaluations and checkpoints
_MEASURED = {"tensorboard": False, "progress": False, "eval_interval": 0, "checkpoint_interval": 0}


def _dqn_cartpole_at_sb3() -> RunConfig:
    """SB3's DQN defaults (stable_baselines3.dqn.DQN): 1 env, MLP 64x64, Adam 1e-4, batch 32, an update every
    4 env steps, a hard target copy every 10,000 env steps (2,500 updates), learning start 100, ε 1 -> 0.05
    over 10% of the run (taken here as 10k steps), Huber loss, gradient norm 10, 1M replay. The env is the one
    SB3 steps, gymnasium's CartPole, in the learner's thread (the gymnasium backend's one-env engine): the
    ratio is the two frameworks' own cost."""
    return RunConfig(
        algo="dqn", env=EnvConfig(id="CartPole-v1", num_envs=1, backend="gymnasium"),
        replay=ReplayConfig(capacity=1_000_000),
        dqn=DQNConfig(gamma=0.99, batch_size=32, replay_ratio=0.25, learning_starts=100, loss="huber",
                      optimizer="adam", lr=1e-4, optim_eps=1e-8, max_grad_norm=10.0, target_update="hard",
                      target_period=2_500, epsilon_start=1.0, epsilon_end=0.05, epsilon_decay_steps=10_000,
                      network="mlp", hidden=(64, 64)),
        total_env_steps=1_000_000, torch_threads=1, **_MEASURED)


def _td3_at_sb3(env_id: str) -> RunConfig:
    """SB3's TD3 defaults (stable_baselines3.td3.TD3): 1 env, actor and critics of [400, 300], Adam 1e-3,
    batch 256, one update per env step, policy delay 2, target smoothing 0.2 clipped to 0.5, tau 0.005, 1M
    replay; both sides start learning at 300 env steps (SB3's default is 100; fastrl's first batch needs 257).
    SB3 adds no exploration noise by default; fastrl's N(0, 0.1) stays: one small draw per env step, beside
    an update per env step."""
    return RunConfig(
        algo="td3", env=EnvConfig(id=env_id, num_envs=1, backend="envpool"),
        replay=ReplayConfig(capacity=1_000_000),
        ddpg=DDPGConfig(gamma=0.99, batch_size=256, replay_ratio=1.0, learning_starts=300, actor_lr=1e-3,
                        critic_lr=1e-3, tau=0.005, policy_delay=2, target_noise=0.2, target_noise_clip=0.5,
                        hidden=(400, 300)),
        total_env_steps=1_000_000, torch_threads=1, **_MEASURED)


def _ppo_pong_at_sb3() -> RunConfig:
    """SB3's own Atari recipe for PPO (rl-baselines3-zoo, hyperparams/ppo.yml, atari): 8 envs x 128 steps, 4
    epochs of minibatches of 256, lr 2.5e-4 annealed, clip 0.1, entropy 0.01, value 0.5; the AtariWrapper
    protocol (noop reset, frame skip 4 with max-pooling, episodic life, fire reset, clipped rewards, 84x84
    grey, 4 stacked). fastrl's ppo-atari preset is that recipe; its precision and threads are its own
    (``auto``). SB3 also anneals the clip range; fastrl keeps it."""
    from fastrl.config import preset

    return dataclasses.replace(preset("ppo-atari", "Pong-v5"), **_MEASURED)


def _ppo_pong_at_cleanrl() -> RunConfig:
    """CleanRL's ppo_atari_envpool.py defaults: 8 envpool envs (episodic life, clipped rewards) x 128 steps, 4
    epochs of 4 minibatches, Adam 2.5e-4 (eps 1e-5) annealed, clip 0.1 (ratio and value), entropy 0.01,
    value 0.5, grad norm 0.5, GAE(0.99, 0.95), the Nature CNN: the ppo-atari preset, whose precision and
    threads are its own (``auto``)."""
    from fastrl.config import preset

    return dataclasses.replace(preset("ppo-atari", "Pong-v5"), **_MEASURED)


def _sb3_ppo_pong(seed: int):
    import ale_py
    import gymnasium
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gymnasium.register_envs(ale_py)
    envs = VecFrameStack(make_atari_env("PongNoFrameskip-v4", n_envs=8, seed=seed), n_stack=4)
    return _sb3_started(PPO("CnnPolicy", envs, n_steps=128, n_epochs=4, batch_size=256, learning_rate=2.5e-4,
                            clip_range=0.1, ent_coef=0.01, vf_coef=0.5, seed=seed, device="cpu"))


def _sb3_dqn(seed: int):
    from stable_baselines3 import DQN
    from stable_baselines3.common.env_util import make_vec_env

    return _sb3_started(DQN("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=seed), seed=seed, device="cpu"))


def _sb3_td3(env_id: str, seed: int):
    from stable_baselines3 import TD3
    from stable_baselines3.common.env_util import make_vec_env

    return _sb3_started(TD3("MlpPolicy", make_vec_env(env_id, n_envs=1, seed=seed), learning_starts=300,
                            seed=seed, device="cpu"))


def _cleanrl_ppo_pong(seed: int) -> Callable[[int], float]:
    """CleanRL's ppo_atari_envpool.py at its defaults on Pong-v5: each round is one run of its script."""
    from fastrl.benchmarks.cleanrl_peer import cleanrl_rate

    return lambda steps: cleanrl_rate("Pong-v5", iterations=max(1, round(steps / 1024)), seed=seed)


CASES = {
    "dqn-cartpole": PeerCase("CartPole-v1", 10_000, _dqn_cartpole_at_sb3, "sb3", _sb3_dqn),
    "td3-halfcheetah": PeerCase("HalfCheetah-v5", 1_000, partial(_td3_at_sb3, "HalfCheetah-v5"), "sb3",
                                partial(_sb3_td3, "HalfCheetah-v5")),
    "td3-hopper": PeerCase("Hopper-v5", 1_000, partial(_td3_at_sb3, "Hopper-v5"), "sb3", partial(_sb3_td3, "Hopper-v5")),
    "ppo-pong": PeerCase("Pong-v5", 4_096, _ppo_pong_at_sb3, "sb3", _sb3_ppo_pong),
    "ppo-pong-cleanrl": PeerCase("Pong-v5", 8_192, _ppo_pong_at_cleanrl, "cleanrl", _cleanrl_ppo_pong),
}


@dataclass
class PeersBenchConfig:
    """fastrl beside SB3 at SB3's default settings, alternating rounds in one process."""

    cases: tuple[str, ...] = tuple(CASES)
    """which comparisons: dqn-cartpole (SB3 DQN), td3-halfcheetah and td3-hopper (SB3 TD3), ppo-pong (SB3 PPO,
    its zoo's Atari recipe), ppo-pong-cleanrl (CleanRL's ppo_atari_envpool.py)"""
    rounds: int = 3
    """alternating rounds (fastrl, then SB3, in each)"""
    scale: float = 1.0
    """multiplies each case's env steps per round"""
    json: str | None = None
    """where to write the records (default: profiles/<hardware>/peers.json only with --save)"""
    save: bool = False


def _sb3_started(model) -> Callable[[int], float]:
    """SB3's model past its learning start (its off-policy start, or PPO's first rollout and update), and its
    timed ``learn``."""
    on_policy = hasattr(model, "n_steps")
    model.learn(total_timesteps=model.n_steps * model.n_envs if on_policy else model.learning_starts + 1)

    def rate(steps: int) -> float:
        start = time.perf_counter()
        model.learn(total_timesteps=steps, reset_num_timesteps=False)
        return steps / (time.perf_counter() - start)

    return rate


def measure(name: str, case: PeerCase, rounds: int, scale: float, roofline_seconds: float = 4.0) -> list[dict]:
    from fastrl.benchmarks.train import _end_to_end, off_policy_section
    from fastrl.benchmarks.train_ppo import ppo_end_to_end

    steps = max(1, int(case.steps * scale))
    config = case.fastrl()
    on_policy = config.algo == "ppo"
    peer_rate = case.start(0)
    end_to_end = ppo_end_to_end if on_policy else _end_to_end
    fastrl_rates, peer_rates = [], []
    for _ in range(rounds):
        fastrl_rates.append(end_to_end(config, steps)[0])
        peer_rates.append(peer_rate(steps))
    if on_policy:
        ppo = config.ppo
        shape = {"num_steps": ppo.num_steps, "epochs": ppo.epochs,
                 "batch_size": ppo.num_steps * config.env.num_envs // ppo.minibatches}
    else:
        section = off_policy_section(config)
        shape = {"batch_size": section.batch_size, "hidden": list(section.hidden),
                 "replay_ratio": section.replay_ratio}
    common = {"env_id": case.env_id, "num_envs": config.env.num_envs, **shape, "steps_per_round": steps,
              "rounds": rounds}
    case_id = f"{name}/{case.peer}-settings/cpu"
    ratio = statistics.median(f / s for f, s in zip(fastrl_rates, peer_rates, strict=True))
    return [
        records.record(SUITE, case_id, "fastrl", "env_steps_per_s", statistics.median(fastrl_rates), "1/s",
                       per_round=fastrl_rates, torch_threads=config.torch_threads, ratio_vs_peer=ratio, **common),
        records.record(SUITE, case_id, case.peer, "env_steps_per_s", statistics.median(peer_rates), "1/s",
                       per_round=peer_rates, torch_threads=torch.get_num_threads(), **common),
        *([] if on_policy else update_against_roofline(config, case_id, common, seconds=roofline_seconds)),
    ]


def update_against_roofline(config: RunConfig, case_id: str, common: dict, seconds: float) -> list[dict]:
    """fastrl's update alone (learner-only updates/s, ``fastrl.benchmarks.train``) beside the roofline of its
    matrix products on the same torch threads (``fastrl.benchmarks.roofline``), and the fraction it reaches."""
    from fastrl.benchmarks.roofline import roofline
    from fastrl.benchmarks.train import learner_body, learner_on_filled_replay
    from fastrl.benchmarks.train_timing import timed
    from fastrl.run.envs import make_env

    with torch_threads(config.torch_threads) as threads:
        envs = make_env(config, config.env.num_envs, config.seed)
        try:
            learner, replay, generator, section = learner_on_filled_replay(envs, config)
            updates_per_s = timed(learner_body(learner, replay, generator, section, config.replay.prioritized),
                                  seconds, torch.device("cpu"))
            networks = [learner.online] if config.algo == "dqn" else [learner.actor, learner.critic]
            bound = roofline(learner, replay.sample(section.batch_size, generator), networks, section.batch_size,
                             updates=getattr(section, "policy_delay", 1), seconds=seconds / 2)
        finally:
            envs.close()
    fields = common | {"torch_threads": threads}
    return [
        records.record(SUITE, case_id, "fastrl-update", "updates_per_s", updates_per_s, "1/s",
                       fraction_of_roofline=updates_per_s / bound["roofline_updates_per_s"], **fields),
        records.record(SUITE, case_id, "roofline", "updates_per_s", bound["roofline_updates_per_s"], "1/s",
                       flops_per_update=bound["flops_per_update"],
                       matmul_gflops_per_s=bound["matmul_flops_per_s"] / 1e9, **fields),
    ]


def main(argv: list[str] | None = None, prog: str = "fastrl bench peers") -> int:
    from fastrl.config import ConfigError
    from fastrl.train_cli import report_error

    bench = tyro.cli(PeersBenchConfig, args=argv, prog=prog)
    unknown = [c for c in bench.cases if c not in CASES]
    if unknown or bench.rounds < 1 or not bench.scale > 0:
        return report_error(prog, ConfigError(
            f"--cases {' '.join(unknown)}: expected some of {', '.join(CASES)}" if unknown else
            f"--rounds {bench.rounds} --scale {bench.scale}: expected rounds >= 1 and scale > 0"))
    if any(CASES[c].peer == "sb3" for c in bench.cases):
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            return report_error(prog, ConfigError("Stable-Baselines3 is not installed: ./install.sh peers"))
    from fastrl.log import CountBar

    rows = []
    with CountBar("peer cases", len(bench.cases)) as bar:  # a live bar on a terminal
        for name in bench.cases:
            rows += measure(name, CASES[name], bench.rounds, bench.scale)
            bar.advance(text=name)
    records.print_table(rows, title=prog, extra_columns=("ratio_vs_peer", "fraction_of_roofline", "torch_threads"))
    path = bench.json or (records.default_path(SUITE) if bench.save else None)
    if path is not None:
        meta = records.run_meta(bench)
        records.write_records(path, rows, meta)
        print(f"records written to {path}")
    return 0

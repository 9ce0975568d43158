"""Published deep-RL results, for ``fastrl bench learn`` to print beside fastrl's learning curves.

Every row names its source and the protocol it was measured under; compare with care: frame skip, sticky
actions, life loss, reward clipping, eval policy and the env version all move the numbers. ``x`` is where on
the x axis the score holds, in ``x_unit`` ("frames" = emulator frames = 4 x agent steps with frame skip 4, or
"env_steps" = agent steps). ``env_id`` is fastrl's id for the nearest env; the version the source actually used
is in ``protocol``. Rows read off a plot say so (``read_off_figure``). Nothing here is estimated by us (the TD3 curve
rows are plain means over seeds of the published per-seed curve files): where a number could not be traced to a
source it was left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

X_UNITS = ("frames", "env_steps")


@dataclass(frozen=True)
class Published:
    algo: str  # fastrl's algo word: "ppo", "dqn" (DQN family; the variant is in `method`), "td3", "a3c"
    method: str
    env_id: str  # fastrl/envpool id
    x: int
    x_unit: str  # "frames" or "env_steps"
    score: float  # mean return
    score_std: float | None
    source: str
    protocol: str
    read_off_figure: bool


_CLEANRL_PPO = "https://docs.cleanrl.dev/rl-algorithms/ppo/"
_CLEANRL_DQN = "https://docs.cleanrl.dev/rl-algorithms/dqn/"
_CLEANRL_TD3 = "https://docs.cleanrl.dev/rl-algorithms/td3/"
_TD3_PAPER = (
    "Fujimoto, van Hoof, Meger 2018, 'Addressing Function Approximation Error in Actor-Critic Methods' (ICML)"
)

_PPO_ENVPOOL_PROTOCOL = (
    "envpool Atari v5 defaults (frame skip 4, repeat_action_probability 0, up to 30 no-ops); training with "
    "episodic_life=True and reward_clip=True; score = unclipped full-game return of training episodes "
    "(stochastic policy), 3 seeds, 10M agent steps = 40M frames, 8 envs"
)
_PPO_ENVPOOL_FIGURE_PROTOCOL = (
    "as the table (envpool Atari v5, 8 envs, episodic life and clipped rewards in training), but the curve is the "
    "wandb-smoothed mean over 3 seeds of the unclipped full-game return of training episodes (stochastic "
    "policy), from the 2022 docs run (its table: Pong 20.55 +- 0.37, Breakout 389.57 +- 29.62 at 10M steps)"
)
_DQN_ATARI_PROTOCOL = (
    "gym NoFrameskip-v4 (repeat_action_probability 0) + MaxAndSkip 4, NoopReset 30, EpisodicLife, FireReset, "
    "reward clipping in training; score = full-game return of training episodes (eps-greedy, final eps 0.01), "
    "3 seeds, 10M agent steps = 40M frames"
)
_NATURE_DQN_PROTOCOL = (
    "ALE, frame skip 4, no sticky actions, lives as terminal in training, reward clipping in training; eval: "
    "eps 0.05, up to 30 no-op starts, 5-min episodes, full games; 50M agent steps = 200M frames"
)
_TD3_PAPER_PROTOCOL = (
    "gym MuJoCo v1 (mujoco-py); eval every 5000 steps = mean of 10 episodes, deterministic policy "
    "(no exploration noise); 10 seeds; 1M env steps; score = max over eval points of the 10-seed mean curve, +- "
    "population std over seeds at that point (checked against the repo's .npy curves: HalfCheetah at 975k, "
    "Hopper at 970k steps), so an upper envelope, not the value at 1M"
)
_TD3_CURVE_PROTOCOL = (
    "gym MuJoCo v1; eval = mean of 10 episodes, deterministic policy, every 5000 steps; mean and population std "
    "(ddof=0) over the 10 seeds of the eval at exactly this step, computed from the repo's .npy curves"
)
_CLEANRL_TD3_PROTOCOL = (
    "gym MuJoCo v4; score = return of training episodes (with exploration noise 0.1) at the end of training, "
    "3 seeds, 1M env steps, 25k random steps first"
)
_CLEANRL_CLASSIC_PROTOCOL = (
    "gym CartPole-v1 (500-step cap); score = return of training episodes at the end of training, 3 seeds, "
    "500k env steps"
)

_DER_PAPER = (
    "van Hasselt, Hessel, Aslanides 2019, 'When to use parametric models in reinforcement learning?' (NeurIPS), "
    "data-efficient Rainbow (DER)"
)
_DER_ATARI100K_PROTOCOL = (
    "Atari-100k (Kaiser et al. 2020): 100k agent steps = 400k frames of training per game, frame skip 4, no "
    "sticky actions (as Dopamine's dopamine/labs/atari_100k configs state the benchmark), Rainbow's ALE "
    "preprocessing (up to 30 no-op starts, rewards clipped in training, episodes capped at 108k frames); score = "
    "mean full-game return of the agent at the end of its 100k steps, one number per game, no std given; seeds, "
    "life-loss handling and evaluation episodes as the DER paper, not checked here"
)


_GYMNAX_MINATAR_PROTOCOL = (
    "gymnax's JAX ports of MinAtar (minimal action set, no sticky actions, episodes cut at 1000 steps; fastrl's "
    "envs keep the package's sticky actions 0.1 and no step limit); PPO of gymnax-blines: 64 envs x 128 steps, 4 "
    "epochs of 8 minibatches, 256x256 MLPs on the flattened board, gamma 0.999, lr 5e-4, 10M env steps; score = "
    "the return gymnax's README lists for the trained agent (R), no std given"
)


def _gymnax_minatar_ppo(env_id: str, score: float) -> Published:
    return Published(
        "ppo",
        "PPO (gymnax-blines)",
        env_id,
        10_000_000,
        "env_steps",
        score,
        None,
        "github.com/RobertTLange/gymnax README.md, environment table, column 'PPO' ('R: ...'); its configs in "
        "github.com/RobertTLange/gymnax-blines agents/<Game>-MinAtar/ppo.yaml",
        _GYMNAX_MINATAR_PROTOCOL,
        False,
    )


def _der_atari100k(env_id: str, score: float) -> Published:
    return Published(
        "dqn",
        "DER (data-efficient Rainbow, paper)",
        env_id,
        100_000,
        "env_steps",
        score,
        None,
        f"{_DER_PAPER}; per-game 100k score as quoted in Cetin, Ball, Roberts, Celiktutan 2022, 'Stabilizing "
        "Off-Policy Deep Reinforcement Learning from Pixels' (ICML, arXiv:2207.00986), Appendix A.2, Table 5 "
        "'Full results for the Atari 100k benchmark', column DER (the paper's own table not read here)",
        _DER_ATARI100K_PROTOCOL,
        False,
    )


def _ppo_envpool(env_id: str, score: float, std: float) -> Published:
    return Published(
        "ppo",
        "PPO (CleanRL ppo_atari_envpool.py)",
        env_id,
        10_000_000,
        "env_steps",
        score,
        std,
        f"{_CLEANRL_PPO} section ppo_atari_envpool.py, 'Experiment results' table (tag pr-424); "
        "github.com/vwxyzjn/cleanrl docs/benchmark/ppo_atari_envpool.md",
        _PPO_ENVPOOL_PROTOCOL,
        False,
    )


def _ppo_envpool_figure(env_id: str, x: int, score: float) -> Published:
    return Published(
        "ppo",
        "PPO (CleanRL ppo_atari_envpool.py, curve)",
        env_id,
        x,
        "env_steps",
        score,
        None,
        f"{_CLEANRL_PPO} section ppo_atari_envpool.py, learning-curve figure github.com/vwxyzjn/cleanrl "
        f"docs/rl-algorithms/ppo/{env_id.split('-')[0]}.png (commit 2fff248d), the blue curve, approximate: read off by its "
        "pixels' colour (profiles/published/read_curve.py; the points in "
        f"profiles/published/cleanrl-ppo-atari-envpool-{env_id}.json)",
        _PPO_ENVPOOL_FIGURE_PROTOCOL,
        True,
    )


def _td3_curve(env_id: str, version: str, x: int, score: float, std: float) -> Published:
    return Published(
        "td3",
        "TD3 (paper learning curves)",
        env_id,
        x,
        "env_steps",
        score,
        std,
        f"{_TD3_PAPER}; learning-curve data in github.com/sfujim/TD3 learning_curves/ "
        f"(TD3_{version}_0..9.npy, 201 evals every 5000 steps), eval index {x // 5000}",
        _TD3_CURVE_PROTOCOL,
        False,
    )


PUBLISHED: tuple[Published, ...] = (
    # --- PPO, Atari (CleanRL ppo_atari_envpool.py) ---
    _ppo_envpool("Pong-v5", 20.45, 0.09),
    _ppo_envpool("Breakout-v5", 211.24, 151.84),
    # --- PPO, Atari: CleanRL ppo_atari_envpool.py's curves, read off its docs' figures ---
    *(_ppo_envpool_figure("Pong-v5", x, score) for x, score in (
        (500_000, -19.1), (1_000_000, -11.3), (1_500_000, 1.8), (2_000_000, 10.8), (2_500_000, 15.4),
        (3_000_000, 17.4), (3_500_000, 18.4), (4_000_000, 18.6), (4_500_000, 19.0), (5_000_000, 19.7),
        (5_500_000, 19.9), (6_000_000, 20.0), (7_000_000, 20.0), (7_500_000, 20.1), (8_500_000, 20.5),
        (9_000_000, 20.6))),
    *(_ppo_envpool_figure("Breakout-v5", x, score) for x, score in (
        (500_000, 9.1), (1_000_000, 17.5), (1_500_000, 25.3), (2_000_000, 38.3), (2_500_000, 49.6),
        (3_000_000, 70.0), (3_500_000, 86.5), (4_000_000, 109.2), (4_500_000, 141.7), (5_000_000, 169.1),
        (5_500_000, 191.3), (6_000_000, 194.6), (6_500_000, 249.8), (7_000_000, 287.7), (7_500_000, 271.0),
        (8_000_000, 307.7), (8_500_000, 326.6), (9_000_000, 350.3), (9_500_000, 362.6))),
    # --- PPO, MinAtar (gymnax-blines; gymnax has no Seaquest agent) ---
    _gymnax_minatar_ppo("MinAtar/Asterix-v1", 15.0),
    _gymnax_minatar_ppo("MinAtar/Breakout-v1", 28.0),
    _gymnax_minatar_ppo("MinAtar/Freeway-v1", 58.0),
    _gymnax_minatar_ppo("MinAtar/SpaceInvaders-v1", 131.0),
    # --- PPO, classic control (CleanRL ppo.py) ---
    Published(
        "ppo",
        "PPO (CleanRL ppo.py)",
        "CartPole-v1",
        500_000,
        "env_steps",
        490.04,
        6.12,
        f"{_CLEANRL_PPO} section ppo.py, 'Experiment results' table",
        _CLEANRL_CLASSIC_PROTOCOL,
        False,
    ),
    # --- DQN, classic control (CleanRL dqn.py) ---
    Published(
        "dqn",
        "DQN (CleanRL dqn.py)",
        "CartPole-v1",
        500_000,
        "env_steps",
        488.69,
        16.11,
        f"{_CLEANRL_DQN} section dqn.py, 'Experiment results' table",
        _CLEANRL_CLASSIC_PROTOCOL,
        False,
    ),
    # --- DQN, Atari ---
    Published(
        "dqn",
        "DQN (CleanRL dqn_atari.py)",
        "Pong-v5",
        10_000_000,
        "env_steps",
        20.25,
        0.41,
        f"{_CLEANRL_DQN} section dqn_atari.py, 'Experiment results' table (PongNoFrameskip-v4)",
        _DQN_ATARI_PROTOCOL,
        False,
    ),
    Published(
        "dqn",
        "DQN (CleanRL dqn_atari.py)",
        "Breakout-v5",
        10_000_000,
        "env_steps",
        366.928,
        39.89,
        f"{_CLEANRL_DQN} section dqn_atari.py, 'Experiment results' table (BreakoutNoFrameskip-v4)",
        _DQN_ATARI_PROTOCOL,
        False,
    ),
    Published(
        "dqn",
        "DQN (Nature, Mnih et al. 2015)",
        "Pong-v5",
        50_000_000,
        "env_steps",
        18.9,
        1.3,
        "Mnih et al. 2015, 'Human-level control through deep reinforcement learning' (Nature), Extended Data "
        f"Table 2, as quoted in {_CLEANRL_DQN} dqn_atari.py results table",
        _NATURE_DQN_PROTOCOL,
        False,
    ),
    Published(
        "dqn",
        "DQN (Nature, Mnih et al. 2015)",
        "Breakout-v5",
        50_000_000,
        "env_steps",
        401.2,
        26.9,
        "Mnih et al. 2015, 'Human-level control through deep reinforcement learning' (Nature), Extended Data "
        f"Table 2, as quoted in {_CLEANRL_DQN} dqn_atari.py results table",
        _NATURE_DQN_PROTOCOL,
        False,
    ),
    # --- DQN family, Atari-100k: data-efficient Rainbow (van Hasselt et al. 2019) ---
    _der_atari100k("Pong-v5", -19.3),
    _der_atari100k("Breakout-v5", 1.9),
    _der_atari100k("Boxing-v5", 0.2),
    # --- TD3, paper Table 1 (max average return over the run, so an upper envelope, not the value at 1M) ---
    Published(
        "td3",
        "TD3 (paper Table 1, max average return)",
        "HalfCheetah-v5",
        1_000_000,
        "env_steps",
        9636.95,
        859.065,
        f"{_TD3_PAPER}, Table 1 'Max Average Return over 10 trials of 1 million time steps' (value as quoted in "
        f"{_CLEANRL_TD3} td3_continuous_action.py results table)",
        _TD3_PAPER_PROTOCOL,
        False,
    ),
    Published(
        "td3",
        "TD3 (paper Table 1, max average return)",
        "Hopper-v5",
        1_000_000,
        "env_steps",
        3564.07,
        114.74,
        f"{_TD3_PAPER}, Table 1 'Max Average Return over 10 trials of 1 million time steps' (value as quoted in "
        f"{_CLEANRL_TD3} td3_continuous_action.py results table)",
        _TD3_PAPER_PROTOCOL,
        False,
    ),
    # --- TD3, the paper's own learning curves (github.com/sfujim/TD3 learning_curves/) ---
    *(_td3_curve("HalfCheetah-v5", "HalfCheetah-v1", x, score, std) for x, score, std in (
        (25_000, 1327.45, 388.47), (50_000, 3352.19, 851.37), (75_000, 5070.88, 582.08),
        (100_000, 5513.52, 553.69), (125_000, 5910.87, 669.66), (150_000, 6238.91, 513.22),
        (175_000, 6414.29, 714.78), (200_000, 6833.11, 682.62), (225_000, 7082.32, 733.67),
        (250_000, 7016.73, 889.97), (275_000, 7521.83, 696.96), (300_000, 7697.13, 727.45),
        (500_000, 8444.48, 825.59), (1_000_000, 9566.56, 832.87))),
    *(_td3_curve("Hopper-v5", "Hopper-v1", x, score, std) for x, score, std in (
        (25_000, 177.88, 98.18), (50_000, 284.98, 69.03), (75_000, 504.56, 257.61), (100_000, 659.45, 752.31),
        (125_000, 1074.84, 759.21), (150_000, 1211.12, 855.6), (175_000, 1806.25, 916.78),
        (200_000, 2441.1, 746.12), (225_000, 2412.08, 926.92), (250_000, 2031.27, 1067.78),
        (275_000, 2677.29, 774.08), (300_000, 2410.35, 900.36), (500_000, 2933.26, 681.82),
        (1_000_000, 3390.79, 377.83))),
    # --- TD3, CleanRL td3_continuous_action.py on gym MuJoCo v4 ---
    Published(
        "td3",
        "TD3 (CleanRL td3_continuous_action.py)",
        "HalfCheetah-v5",
        1_000_000,
        "env_steps",
        9583.22,
        126.09,
        f"{_CLEANRL_TD3} section td3_continuous_action.py, 'Experiment results' table (HalfCheetah-v4, tag "
        "pr-424); github.com/vwxyzjn/cleanrl docs/benchmark/td3.md",
        _CLEANRL_TD3_PROTOCOL,
        False,
    ),
    Published(
        "td3",
        "TD3 (CleanRL td3_continuous_action.py)",
        "Hopper-v5",
        1_000_000,
        "env_steps",
        3134.61,
        360.18,
        f"{_CLEANRL_TD3} section td3_continuous_action.py, 'Experiment results' table (Hopper-v4, tag "
        "pr-424); github.com/vwxyzjn/cleanrl docs/benchmark/td3.md",
        _CLEANRL_TD3_PROTOCOL,
        False,
    ),
)


def published_for(algo: str, env_id: str) -> list[Published]:
    """Rows for this algo and env, sorted by x (stable: equal x keep table order)."""
    return sorted((r for r in PUBLISHED if r.algo == algo and r.env_id == env_id), key=lambda r: r.x)


def at(rows: Iterable[Published], x: int, x_unit: str) -> Published | None:
    """The row in ``x_unit`` whose x is closest to ``x``, preferring rows not above ``x``.

    Among rows at or below ``x`` the largest x wins; only if none is at or below ``x`` is the smallest x above
    it taken. Ties keep the order of ``rows``. None if no row has that unit.
    """
    same = [r for r in rows if r.x_unit == x_unit]
    if not same:
        return None
    below = [r for r in same if r.x <= x]
    if below:
        best = max(r.x for r in below)
        return next(r for r in below if r.x == best)
    best = min(r.x for r in same)
    return next(r for r in same if r.x == best)

"""``fastrl train <algo>`` and ``fastrl eval RUN_DIR``.

    fastrl train dqn --env Pong-v5 --preset rainbow-atari [--field value ...]
    fastrl train ppo --preset ppo-cartpole [--field value ...]
    torchrun --nproc-per-node 2 -m fastrl train ppo --preset ppo-atari     (data parallel, learners that can)
    fastrl train --resume RUN_DIR [--total-env-steps N ...]
    fastrl eval RUN_DIR [--episodes N] [--epsilon E] [--video [PATH]]

Flags are the fields of ``fastrl.config.RunConfig`` and its parts, without prefixes (``--lr``, ``--n-step``,
``--num-envs``): those of the env, the run, and the chosen learner family's sections (``ALGO_FIELDS``; the
other families' sections are hidden, their flags would clash); ``--help`` lists each with its meaning and
its default. A ``--preset`` supplies the defaults and the other flags override them, wherever they stand on
the line. With ``--resume`` the stored config of the run is the default instead, and flags override it (e.g.
a larger ``--total-env-steps``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from fastrl.algos import algorithm, algorithms
from fastrl.checkpoint import CheckpointError, RunDirError, TrainingDiverged
from fastrl.config import ALGO_FIELDS, ConfigError, RunConfig, preset, presets_of
from fastrl.replay import InsufficientMemoryError

FLAT = (tyro.conf.OmitArgPrefixes,)
#: errors that are about the user's input (config, env id, run directory, memory): printed as one line
#: (ValueError covers make_env's unknown ids and options; set FASTRL_TRACEBACK=1 to see where one came from)
USER_ERRORS = (ConfigError, CheckpointError, RunDirError, TrainingDiverged, FileNotFoundError, FileExistsError, InsufficientMemoryError, ImportError,
               ValueError)


def train_main(argv: list[str], prog: str = "fastrl train") -> int:
    """``fastrl train <algo> [flags]`` or ``fastrl train --resume RUN_DIR [flags]``."""
    from fastrl.runner import load_run_config, train

    resume, argv = _take_flag(argv, "--resume")
    if resume is not None and resume.startswith("-"):
        print(f"{prog}: error: --resume {resume}: expected the run directory after --resume (fastrl train "
              f"--resume RUN_DIR [flags])", file=sys.stderr)
        return 2
    if resume is not None and argv and argv[0] in algorithms():
        argv = argv[1:]
    if resume is None:
        if not argv or argv[0] not in algorithms():
            if argv and argv[0] in ("-h", "--help"):
                print(_train_usage(prog))
                return 0
            print(f"{prog}: expected an algorithm ({', '.join(algorithms())}) or --resume RUN_DIR, got "
                  f"{argv[0] if argv else 'nothing'!r}\n\n{_train_usage(prog)}", file=sys.stderr)
            return 2
        algo, argv = argv[0], argv[1:]
        prog = f"{prog} {algo}"
    try:
        if resume is not None:
            default = load_run_config(resume, device=_take_flag(argv, "--device")[0])
        else:
            name, _ = _take_flag(argv, "--preset")
            env, _ = _take_flag(argv, "--env")
            default = preset(name, env) if name else _default_config(algo, env)
            if default.algo != algo:
                raise ConfigError(f"--preset {name} is a preset of {default.algo}, not of {algo}; presets of "
                                  f"{algo}: {', '.join(presets_of(algo))}")
        cli_type = _cli_type(default.algo)
        parsed = tyro.cli(cli_type, args=argv, default=_as(cli_type, default), prog=prog, config=FLAT,
                          description=_train_description(resume, default.algo))
        config = _as(RunConfig, parsed)
        if resume is not None:
            changed = _changed_fields(default, config)
            if changed:
                print(f"{prog}: resuming {resume} with {', '.join(changed)} changed", file=sys.stderr)
        run_dir = train(config, resume=resume)
    except USER_ERRORS as err:
        return report_error(prog, err)
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM where the learner turns it into one (A3C)
        print(f"{prog}: {str(err) or 'interrupted'}", file=sys.stderr)
        return 130
    print(f"run directory: {run_dir}")
    return 0


@dataclass(frozen=True)
class EvalConfig:
    """Evaluate a trained run's policy: mean and std of the full-game return over N episodes."""

    run_dir: tyro.conf.Positional[Path]
    """the run directory written by fastrl train"""
    episodes: int = 30
    """episodes to play (spread evenly over the envs)"""
    epsilon: float | None = None
    """DQN: exploration of the evaluated ε-greedy policy (default: the run's eval_epsilon; 0 = greedy)"""
    num_envs: int = 0
    """envs played at once (0 = min(episodes, the run's num_envs))"""
    checkpoint: Path | None = None
    """checkpoint directory to evaluate (default: the run's newest)"""
    device: str | None = None
    """torch device (default: the run's)"""
    seed: int = 12345
    """seed of the evaluation envs and of the policy's exploration draws"""
    json: Annotated[Path | None, tyro.conf.arg(name="json")] = None
    """also write the result as JSON here"""
    video: Path | None = None
    """also write --video-episodes episodes as MP4 here, and a GIF beside it: the env's frames, the value
    over time, the action scores (--video alone: RUN_DIR/videos/eval-CHECKPOINT.mp4)"""
    video_episodes: int = 1
    """episodes in the video"""
    video_max_steps: int = 0
    """stop the video after this many steps (0: at the end of its episodes)"""


def eval_main(argv: list[str], prog: str = "fastrl eval") -> int:
    """``fastrl eval RUN_DIR [--episodes N] ...``: prints the mean and std of the return."""
    from fastrl.io import atomic_write_json
    from fastrl.runner import evaluate_run

    argv, default_video = _bare_flag(argv, "--video")
    args = tyro.cli(EvalConfig, args=argv, prog=prog)
    try:
        if default_video or args.video is not None:  # first: a path it cannot write is told before a long evaluation
            from fastrl.viz.video import record_eval_video

            video = record_eval_video(args.run_dir, args.video, episodes=args.video_episodes,
                                      max_steps=args.video_max_steps, epsilon=args.epsilon,
                                      checkpoint_path=args.checkpoint, device=args.device, seed=args.seed)
            print(f"video: {video.mp4} ({video.frames} frames){f' and {video.gif}' if video.gif else ''}")
        result = evaluate_run(args.run_dir, episodes=args.episodes, epsilon=args.epsilon, num_envs=args.num_envs,
                              checkpoint_path=args.checkpoint, device=args.device, seed=args.seed)
    except USER_ERRORS as err:
        return report_error(prog, err)
    print(f"{result['env']}: return {result['return_mean']:.4g} ± {result['return_std']:.3g} over "
          f"{result['episodes']} episodes ({result['policy']} policy, checkpoint {result['checkpoint']})")
    if args.json is not None:
        atomic_write_json(args.json, result)
    return 0


def _bare_flag(argv: list[str], flag: str) -> tuple[list[str], bool]:
    """(``argv`` without ``flag`` where it stands without a value, True), or (``argv``, False): an optional value."""
    for i, arg in enumerate(argv):
        if arg == flag and (i + 1 == len(argv) or argv[i + 1].startswith("-")):
            return argv[:i] + argv[i + 1:], True
    return argv, False


def _default_config(algo: str, env: str | None) -> RunConfig:
    """``fastrl train <algo>`` without a preset: the learner's own defaults for ``env`` where it has them
    (A3C: a3c-atari for Atari ids), else ``RunConfig``'s."""
    default = algorithm(algo).default_config
    return default(env) if default is not None else RunConfig(algo=algo)


def report_error(prog: str, err: Exception) -> int:
    """A user's error as one line on stderr, exit status 2 (``FASTRL_TRACEBACK=1``: raise it, to see where)."""
    if os.environ.get("FASTRL_TRACEBACK"):
        raise err
    print(f"{prog}: error: {err}", file=sys.stderr)
    return 2


def _take_flag(argv: list[str], flag: str) -> tuple[str | None, list[str]]:
    """(value of ``flag`` in ``argv`` or None, ``argv`` without it); ``--flag value`` or ``--flag=value``."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1], argv[:i] + argv[i + 2:]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1], argv[:i] + argv[i + 1:]
    return None, argv


def _changed_fields(old: RunConfig, new: RunConfig) -> list[str]:
    from fastrl.rundir import config_changes

    return [f"{name} {json.dumps(a, default=str)} -> {json.dumps(b, default=str)}"
            for name, a, b in config_changes(old, new)]


def _train_usage(prog: str) -> str:
    return (f"usage: {prog} <algo> [--preset NAME] [--env ID] [--field value ...]\n"
            f"       {prog} --resume RUN_DIR [--field value ...]\n\n"
            f"algorithms: {', '.join(algorithms())}   (`{prog} <algo> --help` lists every field)")


def _train_description(resume: str | None, algo: str) -> str:
    if resume is not None:
        return f"Continue the run in {resume}; flags override its stored config."
    return (f"Train a {algo} learner. --preset NAME sets the defaults ({', '.join(presets_of(algo))}); other "
            f"flags override them. Continue a stopped run with --resume RUN_DIR.")


@functools.cache
def _cli_type(algo: str) -> type:
    """``RunConfig`` as ``fastrl train <algo>`` parses it: the sections of the other learner families are
    suppressed (kept at their defaults, hidden from --help), so flags of the same name do not clash."""
    hidden = {name for family, names in ALGO_FIELDS.items() if family != algo for name in names}
    hidden -= set(ALGO_FIELDS[algo])
    hints = typing.get_type_hints(RunConfig, include_extras=True)
    fields = [(f.name, tyro.conf.Suppress[hints[f.name]], dataclasses.field(default_factory=f.default_factory))
              for f in dataclasses.fields(RunConfig) if f.name in hidden]
    return dataclasses.make_dataclass(f"RunConfig_{algo}", fields, bases=(RunConfig,), frozen=True)


def _as(cls: type, config: RunConfig) -> RunConfig:
    """``config``'s values as an instance of ``cls`` (``RunConfig`` or a ``_cli_type``)."""
    if type(config) is cls:
        return config
    return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(RunConfig)})

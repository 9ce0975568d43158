"""The ``fastrl`` command: ``fastrl <command> [<subcommand>] [--flags]``.

Each command lives in its own module with a ``main(argv, prog) -> int`` that parses its flags with tyro from
a typed config dataclass, so ``--help`` lists every field with its docstring. Lists can be given comma
separated (``--num-envs 8,16,32``) or space separated (``--num-envs 8 16 32``).
"""

from __future__ import annotations

import ctypes
import importlib
import os
import sys

from fastrl.hardware import WAIT_POLICY_SET_BY_FASTRL

#: command words -> "module:function". The function takes (argv, prog) and returns an exit code.
COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("train",): ("fastrl.train_cli:train_main", "train a learner: fastrl train dqn --preset NAME [--field value ...]"),
    ("eval",): ("fastrl.train_cli:eval_main", "mean and std of a trained run's return: fastrl eval RUN_DIR"),
    ("viz",): ("fastrl.viz.commands:main", "saliency, t-SNE, filters, value heat maps of a run: fastrl viz RUN_DIR"),
    ("report",): ("fastrl.viz.report:main", "one self-contained HTML page about a run: fastrl report RUN_DIR"),
    ("plot",): ("fastrl.viz.plot:main", "several runs: bootstrap bands, interquartile mean: fastrl plot RUN_DIR..."),
    ("check",): ("fastrl.check:main", "what works here: devices, kernels backends, env engines"),
    ("bench", "envs"): ("fastrl.benchmarks.envs:main", "env steps/s per backend beside the raw engine"),
    ("bench", "train"): ("fastrl.benchmarks.train:main", "training env steps/s beside its env-only and learner-only bounds"),
    ("bench", "replay"): ("fastrl.benchmarks.replay:main", "replay add, sample and prioritized round beside peers"),
    ("bench", "learn"): ("fastrl.benchmarks.learn:main", "a preset's learning curve over seeds, beside published results"),
    ("bench", "peers"): ("fastrl.benchmarks.peers:main", "training env steps/s beside SB3 and CleanRL at their own settings"),
    ("bench", "planning"): ("fastrl.benchmarks.planning:main", "batched MCTS simulations/s beside the per-game reference"),
    ("bench", "time-to-score"): ("fastrl.benchmarks.time_to_score:main", "estimated hours to a score beside a peer's, both rates measured here"),
    ("bench", "lag"): ("fastrl.benchmarks.lag:main", "IMPALA with a forced policy lag: V-trace beside no correction"),
    ("profile", "ops"): ("fastrl.benchmarks.ops:main", "each op and backend against its torch reference"),
    ("tabular", "cliff"): ("fastrl.tabular.command:cliff", "S&B Example 6.6: SARSA beside Q-learning on the cliff, figure"),
    ("tabular", "gridworld"): ("fastrl.tabular.command:gridworld", "S&B Example 4.1: DP, MC and TD(0) against v_pi"),
}

#: the commands whose hot loop is a learner's update (see ``keep_freed_memory``); not the replay bench, which
#: allocates and frees gigabytes per case and needs them back
TRAINING_COMMANDS = {("train",), ("bench", "train"), ("bench", "peers"), ("bench", "learn"), ("bench", "time-to-score")}


def split_commas(argv: list[str]) -> list[str]:
    """``--flag a,b`` -> ``--flag a b`` (values after flags only; ``--flag=a,b`` too). A comma inside brackets
    or braces stays: ``hidden=[32,32]`` is one value."""
    out: list[str] = []
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            flag, value = arg.split("=", 1)
            out.append(flag)
            out.extend(_top_level_parts(value))
        elif not arg.startswith("-") and "," in arg:
            out.extend(_top_level_parts(arg))
        else:
            out.append(arg)
    return out


def _top_level_parts(value: str) -> list[str]:
    """``value`` split at the commas outside brackets and braces, empty parts dropped."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(value):
        if char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return [p for p in parts if p]


def usage() -> str:
    lines = ["usage: fastrl <command> [<subcommand>] [--help] [flags]", "", "commands:"]
    for words, (_, text) in COMMANDS.items():
        lines.append(f"  fastrl {' '.join(words):<16} {text}")
    return "\n".join(lines)


def keep_freed_memory() -> None:
    """Let glibc's malloc keep freed memory for reuse instead of handing it back to the OS.

    A learner's update allocates the same large activations and gradients at every step (several MB each for
    a ppo-atari minibatch). By default glibc serves such blocks with fresh mappings or trims them off the
    heap's top when freed, so each step touches new pages again, and on a VM a page's first touch is dear.
    With both thresholds high, the update reuses its pages (compare ``fastrl bench train --preset ppo-atari``
    run through ``fastrl`` with a plain ``python -c`` timing of ``PPO.learn``; profiles/HISTORY.md records
    the allocator settings of each figure). The cost: the process keeps its peak heap. No-op without glibc.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # malloc.h
    mallopt(m_mmap_threshold, 1 << 30)
    mallopt(m_trim_threshold, 1 << 30)


def sleep_when_waiting() -> None:
    """OpenMP threads sleep while they wait for work (``OMP_WAIT_POLICY=PASSIVE``), unless the user set a policy.

    libgomp's threads spin at every barrier by default. Where another process holds one of the cores, a
    descheduled thread of torch's pool keeps the others spinning until the scheduler runs it again, at every
    parallel region of an update: a two-thread learner on a busy two-core machine then runs several times
    slower than on one thread (SB3 alike). Sleeping waits cost a wake-up per region instead. The policy is
    read when torch loads, so this runs before any import of torch; ``fastrl.hardware`` records it.
    """
    if "OMP_WAIT_POLICY" not in os.environ and "torch" not in sys.modules:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.environ[WAIT_POLICY_SET_BY_FASTRL] = "1"


def main(argv: list[str] | None = None) -> int:
    """Run a command; ``argv`` None: the process's own arguments (the ``fastrl`` entry point), and the process
    exits when this returns."""
    exiting = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    for words in sorted(COMMANDS, key=len, reverse=True):
        if tuple(argv[: len(words)]) == words:
            if words == ("train",):  # Ctrl-C from here on: noted, and the run stops with a checkpoint
                from fastrl import signals

                previous = signals.defer()
            if words in TRAINING_COMMANDS:
                sleep_when_waiting()
                keep_freed_memory()
            from fastrl.train_cli import USER_ERRORS, report_error

            target, _ = COMMANDS[words]
            module, func = target.split(":")
            fn = getattr(importlib.import_module(module), func)
            prog = "fastrl " + " ".join(words)
            try:
                return int(fn(split_commas(argv[len(words):]), prog=prog) or 0)
            except USER_ERRORS as err:  # a wrong env id, case, option or file: one line, as fastrl train does
                return report_error(prog, err)
            finally:
                if words == ("train",) and exiting:
                    signals.ignore()  # the run is over; a late signal must not change the exit code
                elif words == ("train",):
                    signals.restore(previous)
    group = [words for words in COMMANDS if len(words) > 1 and argv and words[0] == argv[0]]
    if group and (len(argv) == 1 or argv[1] in ("-h", "--help")):  # fastrl bench [--help]: its subcommands
        lines = [f"usage: fastrl {argv[0]} <subcommand> [--help] [flags]", "", "subcommands:"]
        lines += [f"  fastrl {' '.join(words):<16} {COMMANDS[words][1]}" for words in group]
        print("\n".join(lines), file=sys.stdout if len(argv) > 1 else sys.stderr)
        return 0 if len(argv) > 1 else 2
    if argv and argv[0] not in ("-h", "--help"):
        print(f"fastrl: unknown command {' '.join(argv[:2])!r}\n", file=sys.stderr)
        print(usage(), file=sys.stderr)
        return 2
    print(usage())
    return 0


if __name__ == "__main__":
    sys.exit(main())

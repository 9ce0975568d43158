"""What a run tells the world: a live progress line, metrics as JSONL and TensorBoard scalars, a plot at the end.

Files in the run directory:

- ``metrics.jsonl``: one JSON object per log interval, ``{"env_steps": ..., "time_s": ..., name: value}``
  (SPS, per-stage milliseconds, loss, mean Q, |TD|, the interval's mean episode return and length, and the
  evaluation results where an evaluation ran);
- ``episodes.jsonl``: one row per finished training episode, ``{"env_steps", "return", "length"}``;
- ``tb/``: the same metrics as TensorBoard scalars (``tensorboard --logdir <run_dir>/tb``);
- ``learning_curve.png``: episode returns against env steps, with their running mean and the evaluations.

The logger only formats and writes: the training loop hands it host numbers at its log interval, so
logging never adds a host-device sync of its own.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastrl.io import atomic_write_bytes, atomic_write_text

METRICS = "metrics.jsonl"
EPISODES = "episodes.jsonl"
PLOT = "learning_curve.png"
RECENT_EPISODES = 100


class RunLogger:
    """Writes one run's metrics and keeps its progress line; ``resume_step`` continues an earlier run.

    When resuming at env step ``resume_step``, rows that the earlier run wrote after that step (it may have
    run past its last checkpoint) are dropped first, so the files read as one uninterrupted run.
    """

    def __init__(self, run_dir: str | Path, total_env_steps: int, *, tensorboard: bool = True,
                 progress: bool = True, resume_step: int | None = None):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.total_env_steps = total_env_steps
        self.recent_returns: deque[float] = deque(maxlen=RECENT_EPISODES)
        if resume_step is not None:
            for name in (METRICS, EPISODES):
                note = cut_back(self.run_dir / name, resume_step)
                if note:
                    print(f"fastrl: {note}", file=sys.stderr, flush=True)
            for row in read_jsonl(self.run_dir / EPISODES):
                self.recent_returns.append(row["return"])
        self._metrics = open(self.run_dir / METRICS, "a")
        self._episodes = open(self.run_dir / EPISODES, "a")
        self._tb = _summary_writer(self.run_dir / "tb", resume_step) if tensorboard else None
        self._progress = _ProgressLine(total_env_steps, resume_step or 0) if progress else None

    def episodes(self, env_steps: Iterable[int], returns: Iterable[float], lengths: Iterable[int]) -> None:
        """Record finished training episodes (host numbers)."""
        with self._writing(EPISODES):
            for step, ret, length in zip(env_steps, returns, lengths, strict=True):
                ret = float(ret)
                self._episodes.write(json.dumps({"env_steps": int(step), "return": ret, "length": int(length)}) + "\n")
                self.recent_returns.append(ret)
            self._episodes.flush()

    @contextlib.contextmanager
    def _writing(self, name: str):
        """A full disk while writing ``name``: one clear error (which file, which checkpoint is intact)."""
        from fastrl.checkpoint import write_failed

        try:
            yield
        except OSError as err:
            failed = write_failed(err, self.run_dir / name, self.run_dir)
            if failed is None:
                raise
            raise failed from None

    @property
    def recent_mean_return(self) -> float:
        return sum(self.recent_returns) / len(self.recent_returns) if self.recent_returns else math.nan

    def metrics(self, env_steps: int, values: dict[str, float]) -> None:
        """Write one row of metrics at ``env_steps`` and update the progress line."""
        row = {"env_steps": int(env_steps), **{k: _plain(v) for k, v in values.items()}}
        with self._writing(METRICS):
            self._metrics.write(json.dumps(row) + "\n")
            self._metrics.flush()
        if self._tb is not None:
            for name, value in row.items():
                if name != "env_steps" and isinstance(value, (int, float)) and math.isfinite(value):
                    self._tb.add_scalar(name, value, env_steps)
            self._tb.flush()
        if self._progress is not None:
            self._progress.update(env_steps, values.get("sps", math.nan), self.recent_mean_return,
                                  values.get("eval_return_mean"))

    def heartbeat(self, env_steps: int, worker_steps: list[int] | None = None) -> None:
        """Between metric rows: keep the progress line alive from host counters alone (no device sync);
        ``worker_steps``: each worker's count, for one bar per worker (A3C)."""
        if self._progress is not None:
            self._progress.heartbeat(env_steps, worker_steps)

    def close(self, plot: bool = True) -> None:
        """Close the files and the progress line; draw the learning curve."""
        if self._progress is not None:
            self._progress.close()
        for file in (self._metrics, self._episodes):
            try:
                file.close()
            except OSError:  # a full disk: already reported by the write that failed
                pass
        if self._tb is not None:
            self._tb.close()
        if plot:
            plot_learning_curve(self.run_dir)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file (``[]`` where it does not exist), without a torn last line (a file being written,
    or one whose write was cut short); ``LogError`` naming the file and line where another is not JSON."""
    return _parse_jsonl(Path(path))[0]


class LogError(ValueError):
    """A log file that cannot be read; the message names the file and the line."""


def _parse_jsonl(path: Path, steps: bool = False) -> tuple[list[dict[str, Any]], str | None]:
    """(rows, torn last line or None): a last line without its newline that does not parse is torn (a write
    cut short); any other line that is not a JSON object (with an integer env_steps, with ``steps``) is an
    error."""
    if not path.exists():
        return [], None
    try:
        text = path.read_bytes().decode()
    except UnicodeDecodeError as err:
        raise LogError(f"{path}: not UTF-8 text ({err})") from None
    lines = text.split("\n")
    last = lines.pop()  # "" where the file ends with a newline
    rows = []
    for i, line in enumerate(lines + [last] if last else lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            if i == len(lines) + 1:  # the unterminated last line
                return rows, line
            raise LogError(f"{path}:{i}: not a JSON line ({err})") from None
        if not isinstance(row, dict) or steps and type(row.get("env_steps")) is not int:
            raise LogError(f"{path}:{i}: expected a JSON object{' with an integer env_steps' if steps else ''}, "
                           f"got {line[:80]!r}")
        rows.append(row)
    return rows, None


def cut_back(path: Path, env_steps: int) -> str | None:
    """Cut a JSONL log back to the rows of env steps up to ``env_steps`` (a checkpoint's): a torn last line
    and the rows written after the checkpoint go (atomically). What was dropped, or None where nothing was."""
    rows, torn = _parse_jsonl(path, steps=True)
    kept = [r for r in rows if r["env_steps"] <= env_steps]
    unterminated = path.exists() and path.read_bytes()[-1:] not in (b"", b"\n")  # appends would join its line
    if torn is None and len(kept) == len(rows) and not unterminated:
        return None
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    dropped = []
    if torn is not None:
        dropped.append(f"a torn last line ({torn[:40]!r})")
    if len(kept) != len(rows):
        dropped.append(f"{len(rows) - len(kept)} row(s) written after the checkpoint's env step {env_steps:,}")
    if not dropped:
        return None
    return f"{path}: dropped {' and '.join(dropped)}, to continue from the checkpoint"


def plot_learning_curve(run_dir: str | Path) -> Path | None:
    """``learning_curve.png``: training episode returns (points and running mean) and evaluation means.

    Returns the path, or None where the run has no finished episode yet.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    run_dir = Path(run_dir)
    episodes = read_jsonl(run_dir / EPISODES)
    evals = [r for r in read_jsonl(run_dir / METRICS) if "eval_return_mean" in r]
    if not episodes and not evals:
        return None
    fig = Figure(figsize=(7, 4), dpi=120)
    FigureCanvasAgg(fig)
    draw_returns(fig.add_subplot(), episodes, evals, run_dir.name)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return atomic_write_bytes(run_dir / PLOT, buffer.getvalue())


def draw_returns(ax, episodes: list[dict], evals: list[dict], title: str) -> None:
    """On ``ax``: training episode returns (points and running mean) and evaluation means ± std, against env
    steps (the learning curve's picture; ``fastrl report`` draws it too)."""
    if episodes:
        steps = [r["env_steps"] for r in episodes]
        returns = [r["return"] for r in episodes]
        ax.scatter(steps, returns, s=2, alpha=0.25, color="tab:blue", label="training episode")
        ax.plot(steps, _running_mean(returns, RECENT_EPISODES), color="tab:blue",
                label=f"mean of last {RECENT_EPISODES}")
    if evals:
        ax.errorbar([r["env_steps"] for r in evals], [r["eval_return_mean"] for r in evals],
                    yerr=[r.get("eval_return_std", 0.0) for r in evals], color="tab:red", marker="o",
                    capsize=3, label="evaluation (mean ± std)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")


def _running_mean(values: list[float], window: int) -> list[float]:
    out, total, queue = [], 0.0, deque()
    for v in values:
        queue.append(v)
        total += v
        if len(queue) > window:
            total -= queue.popleft()
        out.append(total / len(queue))
    return out


def _plain(value: Any) -> Any:
    """A JSON-friendly number (numpy and 0-d tensors become Python numbers)."""
    if hasattr(value, "item"):
        return value.item()
    return value


def _summary_writer(directory: Path, resume_step: int | None):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError(f"TensorBoard scalars need the tensorboard package ({err}); install it "
                          f"(pip install tensorboard) or run with --no-tensorboard") from err

    _quiet_disk_errors_in_threads()
    # purge_step drops the events an earlier run wrote after the checkpoint we resume from.
    return SummaryWriter(str(directory), purge_step=None if resume_step is None else resume_step + 1)


def _quiet_disk_errors_in_threads() -> None:
    """TensorBoard writes events from a thread of its own; a full disk there prints that thread's traceback,
    then the writer raises the same error in the main thread, where the run reports it as one line. Threads'
    disk errors are left to that one line; any other error in a thread is printed as before."""
    from fastrl.checkpoint import DISK_ERRNOS

    previous = threading.excepthook
    if getattr(previous, "quiet_disk_errors", False):
        return

    def hook(args):
        if not (isinstance(args.exc_value, OSError) and args.exc_value.errno in DISK_ERRNOS):
            previous(args)

    hook.quiet_disk_errors = True
    threading.excepthook = hook


#: seconds from the start by which the first progress line shows, even before the first metrics row
FIRST_LINE_S = 2.0
#: seconds between moves of the live bar on a terminal
LIVE_REFRESH_S = 1.0


def _live_bars(console):
    """rich's live bars, one row per task: its name, bar, count, a text field and the time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[text]}"), TimeRemainingColumn(), console=console, transient=False,
                    refresh_per_second=2)


class _ProgressLine:
    """Env steps, SPS and the recent mean return: a live bar on a terminal, a printed line elsewhere. Given the
    steps of each worker (A3C's Hogwild workers), a terminal shows one more bar per worker."""

    def __init__(self, total: int, start: int):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.live = self.console.is_terminal
        self.started = time.perf_counter()
        self.start_steps = start
        self.shown = False  # a line was printed (non-terminal: heartbeats stop then)
        self.next_beat = self.started + FIRST_LINE_S
        self.worker_tasks: list[int] = []  # one bar per worker, made at the first heartbeat that names them
        self.worker_start: list[int] = []
        self.worker_since = self.started
        if self.live:
            self.progress = _live_bars(self.console)
            self.task = self.progress.add_task("env steps", total=total, completed=start, text="")
            self.progress.start()
        self.total = total

    def heartbeat(self, env_steps: int, worker_steps: list[int] | None = None) -> None:
        """The first line within ``FIRST_LINE_S`` of the start, however long the first log interval takes; on a
        terminal, the bar moves every ``LIVE_REFRESH_S``. The rate is the host's count since the start.
        ``worker_steps``: each worker's own count (its bar's total: an even share of the run's)."""
        now = time.perf_counter()
        if now < self.next_beat or (self.shown and not self.live):
            return
        sps = (env_steps - self.start_steps) / max(now - self.started, 1e-9)
        if self.live:
            self.progress.update(self.task, completed=env_steps)
            if worker_steps is not None:
                self._update_workers(worker_steps, now)
            self.next_beat = now + LIVE_REFRESH_S
        else:
            self.console.print(f"env steps {env_steps:,}/{self.total:,}  {sps:,.0f} SPS (since the start)",
                               highlight=False)
            self.shown = True

    def _update_workers(self, worker_steps: list[int], now: float) -> None:
        if not self.worker_tasks:
            share = -(-self.total // len(worker_steps))
            self.worker_tasks = [self.progress.add_task(f"worker {i}", total=share, completed=steps, text="")
                                 for i, steps in enumerate(worker_steps)]
            self.worker_start = list(worker_steps)
            self.worker_since = now
            return
        elapsed = max(now - self.worker_since, 1e-9)
        for task, steps, first in zip(self.worker_tasks, worker_steps, self.worker_start, strict=True):
            self.progress.update(task, completed=steps, text=f"{(steps - first) / elapsed:,.0f} SPS")

    def update(self, env_steps: int, sps: float, recent_return: float, eval_return: float | None) -> None:
        self.shown = True
        text = f"{sps:,.0f} SPS"
        if not math.isnan(recent_return):
            text += f"  return {recent_return:.3g} (last {RECENT_EPISODES})"
        if eval_return is not None:
            text += f"  eval {eval_return:.3g}"
        if self.live:
            self.progress.update(self.task, completed=env_steps, text=text)
        else:
            self.console.print(f"env steps {env_steps:,}/{self.total:,}  {text}", highlight=False)

    def close(self) -> None:
        if self.live:
            self.progress.stop()


class CountBar:
    """A live bar of a count toward a total (an evaluation's episodes, a video's steps, a bench's cases) on a
    terminal, with the time left; nothing elsewhere, so that logs and pipes stay as they were. ``total`` None:
    a count without an end known. A context manager."""

    def __init__(self, what: str, total: int | None):
        from rich.console import Console

        console = Console(stderr=True)
        self.progress = _live_bars(console) if console.is_terminal else None
        if self.progress is not None:
            self.task = self.progress.add_task(what, total=total, text="")

    def __enter__(self) -> CountBar:
        if self.progress is not None:
            self.progress.start()
        return self

    def advance(self, count: int = 1, text: str | None = None) -> None:
        if self.progress is not None:
            fields = {} if text is None else {"text": text}
            self.progress.update(self.task, advance=count, **fields)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

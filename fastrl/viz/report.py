"""``fastrl report RUN_DIR``: one self-contained HTML page about a run.

    fastrl report RUN_DIR [--out PAGE.html] [--video-steps N] [--states N] [--no-agent]

The page holds the run's config, its curves (training return, evaluation mean ± std, losses, SPS and per-stage
times), an evaluation video of its newest checkpoint, the saliency, t-SNE, filter and (Catch, CartPole) heat map
pictures of ``fastrl viz``, and the hardware, library versions and git sha of ``meta.json``. Everything is inline
(PNG and MP4 as data URIs, no script, no external style), so the one file can be mailed, committed or opened
offline. ``--no-agent`` leaves out the video and the pictures (a run without a checkpoint yet).
"""

from __future__ import annotations

import base64
import html
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tyro

from fastrl.checkpoint import RunDirError
from fastrl.io import atomic_write_text
from fastrl.viz.commands import AgentArgs
from fastrl.viz.video import writable_dir

#: what the pictures of ``fastrl viz`` show, as the page's captions
CAPTIONS = {
    "saliency": "Perturbation saliency (Greydanus et al. 2018): where blurring the input moves the policy (blue) "
                "and the value (red)",
    "tsne": "t-SNE of the last hidden layer over visited states, coloured by the value",
    "filters": "The first layer's weights",
    "heatmap": "The value and the policy over the whole state grid",
    "returns": "Training episodes' return, and the evaluations' mean ± std",
    "losses": "Losses",
    "throughput": "Env steps per second and the loop's per-stage times",
}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }
img, video { max-width: 100%; border: 1px solid #eee; }
table { border-collapse: collapse; } td, th { padding: 0.2em 0.8em; text-align: left; border-bottom: 1px solid #eee; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.85em; }
.note { color: #a33; }
"""


@dataclass(frozen=True)
class ReportConfig(AgentArgs):
    """Write one self-contained HTML page about a run: config, curves, evaluation video, saliency, t-SNE, hardware."""

    out: Path | None = None
    """the page to write (default: RUN_DIR/report.html)"""
    video_steps: int = 600
    """steps of the evaluation video (at most; one episode)"""
    states: int = 1000
    """visited states in the t-SNE picture"""
    agent: bool = True
    """show the agent: the video and the pictures (--no-agent: curves, config and hardware only,
    as for a run without a checkpoint yet)"""


def write_report(args: ReportConfig) -> Path:
    """Make the page's pictures and video in a temporary folder, inline them, write the page; its path."""
    from fastrl.viz.curves import plot_run_curves

    run_dir = args.run_dir
    out = args.out or run_dir / "report.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise RunDirError(f"--out {out}: expected a path ending in .html")
    writable_dir(out.parent, "the report")
    config, meta = _read_json(run_dir, "config.json"), _read_json(run_dir, "meta.json", required=False)
    title = f"{config['env']['id']} · {config['algo']}{' (' + config['preset'] + ')' if config.get('preset') else ''}"
    with tempfile.TemporaryDirectory(prefix="fastrl-report-") as scratch:
        scratch = Path(scratch)
        curves = plot_run_curves(run_dir, scratch, title)
        agent_part = _agent_section(args, scratch) if args.agent else ""
        page = _page(title, run_dir, config, meta, curves, agent_part)
    atomic_write_text(out, page)
    return out


def _agent_section(args: ReportConfig, scratch: Path) -> str:
    from fastrl.viz.agent import load_agent
    from fastrl.viz.commands import draw_all
    from fastrl.viz.video import record_video

    agent = load_agent(args.run_dir, checkpoint_path=args.checkpoint, device=args.device)
    video = record_video(agent, scratch / "eval.mp4", max_steps=args.video_steps, seed=args.seed, gif=False)
    pictures = draw_all(agent, scratch, states=args.states, saliency_steps=200, saliency_frames=4, seed=args.seed)
    played = (f"{len(video.returns)} episode(s), return {', '.join(f'{r:g}' for r in video.returns)}"
              if video.returns else f"the first {video.frames - 1} steps of an episode")
    parts = [f"<h2>The agent at env step {agent.env_steps:,} ({html.escape(agent.checkpoint.name)})</h2>",
             f"<figure><video controls autoplay muted loop playsinline src=\"{_data_uri(video.mp4, 'video/mp4')}\">"
             f"</video><figcaption>Evaluation policy ({html.escape(agent.policy_description)}): {played}. Beside "
             f"the frames: {html.escape(agent.value_name)} over time and {html.escape(agent.score_name)} of each "
             f"step.</figcaption></figure>"]
    parts += [_figure(path, CAPTIONS[name]) for name, path in pictures.items()]
    return "\n".join(parts)


def _page(title: str, run_dir: Path, config: dict, meta: dict | None, curves: dict[str, Path], agent_part: str) -> str:
    from fastrl.viz.curves import run_rows, series

    _, metrics = run_rows(run_dir)
    steps, evals = series(metrics, "eval_return_mean")
    last = metrics[-1]["env_steps"] if metrics else 0
    summary = [("run directory", str(run_dir)), ("env steps logged", f"{last:,} of {config['total_env_steps']:,}")]
    if len(evals):
        summary.append(("last evaluation", f"{evals[-1]:.4g} at env step {int(steps[-1]):,}"))
    curve_part = "\n".join(_figure(path, CAPTIONS[name]) for name, path in curves.items()) or \
        '<p class="note">The run has logged no episode and no metric yet.</p>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>fastrl report: {html.escape(title)}</title>
<style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
{_table(summary)}
{agent_part}
<h2>Curves</h2>
{curve_part}
<h2>Hardware and software</h2>
{_hardware(meta)}
<h2>Config</h2>
<pre>{html.escape(json.dumps(config, indent=1))}</pre>
</body></html>
"""


def _hardware(meta: dict | None) -> str:
    if meta is None:
        return '<p class="note">The run has no meta.json (hardware and git sha unknown).</p>'
    cpu = meta.get("cpu", {})
    gpus = ", ".join(f"{g.get('name')} ({g.get('memory_total_mb', '?')} MB)" for g in meta.get("gpus", [])) or "none"
    rows = [("git sha", meta.get("git_sha", "?")), ("date", meta.get("date", "?")),
            ("CPU", f"{cpu.get('model', '?')}, {cpu.get('cores', '?')} cores, {', '.join(cpu.get('simd', []))}"),
            ("GPUs", gpus)]
    rows += [(name, version) for name, version in meta.get("libraries", {}).items()]
    rows += [(f"chosen: {c['field']}", f"{c['value']} ({c['reason']})") for c in meta.get("hardware_choices", [])]
    return _table(rows)


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _figure(path: Path, caption: str) -> str:
    return (f'<figure><img alt="{html.escape(caption)}" src="{_data_uri(path, "image/png")}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _read_json(run_dir: Path, name: str, required: bool = True) -> dict | None:
    path = run_dir / name
    if not path.is_file():
        if required:
            raise RunDirError(f"{path} does not exist: is {run_dir} a run directory written by `fastrl train`?")
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunDirError(f"{path} is not valid JSON ({err})") from None


def main(argv: list[str], prog: str = "fastrl report") -> int:
    args = tyro.cli(ReportConfig, args=argv, prog=prog)
    print(f"report: {write_report(args)}", file=sys.stdout)
    return 0

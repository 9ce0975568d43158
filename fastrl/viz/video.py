"""Evaluation episodes as a video: the env's own frames, and beside them what the agent thinks at each step.

The right-hand panel of each frame shows the value estimate over the last ``VALUE_WINDOW`` steps (V(s), max Q
or Q(s, μ(s)), as ``fastrl.viz.agent`` names it) and the step's action scores (P(a|s) or Q(s, a) as bars, the
action taken highlighted; μ(s) for continuous actions). The episodes are played by the run's evaluation policy,
as ``fastrl eval`` plays them, in one env that renders (``fastrl.viz.frames``).

Encoding is ffmpeg's (H.264, yuv420p, ``+faststart`` so that a browser plays it while loading) through
``imageio`` and the ffmpeg binary that ``imageio-ffmpeg`` ships; frames stream into the encoder, so a long Atari
episode does not sit in memory. The GIF is a subsampled, smaller copy read back from the MP4 (GIF frames cost
far more bytes). Both are written to a temporary name and renamed into place.
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from fastrl.log import CountBar
from fastrl.viz.agent import Agent, VizError, load_agent
from fastrl.viz.frames import RenderedEnv

#: steps of value history drawn in the panel
VALUE_WINDOW = 200
PANEL_WIDTH = 360
#: least height of the env's picture in the video (smaller frames are scaled up by an integer factor)
MIN_HEIGHT = 360
#: frames per second by env (others: DEFAULT_FPS): Catch is slow enough to follow, CartPole in real time (τ 0.02 s)
FPS = {"Catch-v0": 5, "CartPole-v1": 50}
DEFAULT_FPS = 30
#: the GIF copy: at most this many frames (every k-th frame of the MP4) and this width
GIF_FRAMES = 200
GIF_WIDTH = 400
#: ffmpeg's H.264 works on 16x16 blocks: frames are padded to a multiple (no resize)
BLOCK = 16

PANEL = (250, 250, 250)
INK = (20, 20, 20)
FAINT = (170, 170, 170)
BAR = (120, 150, 200)
CHOSEN = (220, 90, 40)


@dataclass
class VideoResult:
    mp4: Path
    gif: Path | None
    frames: int
    """frames in the MP4 (one per observation shown: every step of every episode, and each episode's last)"""
    returns: list[float] = field(default_factory=list)
    """full-game return of each recorded episode"""


def record_eval_video(run_dir: str | Path, path: str | Path | None, *, episodes: int = 1, max_steps: int = 0,
                      epsilon: float | None = None, checkpoint_path: str | Path | None = None,
                      device: str | None = None, seed: int = 12345) -> VideoResult:
    """``fastrl eval RUN_DIR --video [PATH]``: the run's agent (``load_agent``'s arguments) recorded by
    ``record_video``; ``path`` None: ``RUN_DIR/videos/eval-<checkpoint>.mp4``."""
    agent = load_agent(run_dir, checkpoint_path=checkpoint_path, device=device, epsilon=epsilon)
    path = Path(run_dir) / "videos" / f"eval-{agent.checkpoint.name}.mp4" if path is None else path
    return record_video(agent, path, episodes=episodes, seed=seed, max_steps=max_steps)


def record_video(agent: Agent, path: str | Path, *, episodes: int = 1, seed: int = 12345, max_steps: int = 0,
                 fps: int = 0, gif: bool = True) -> VideoResult:
    """Play ``episodes`` episodes of the agent's evaluation policy and write them as an MP4 at ``path`` (and a
    GIF beside it). ``max_steps`` > 0 stops the recording there, mid-episode if need be; ``fps`` 0: by env."""
    import imageio.v2 as imageio

    path = Path(path)
    if episodes < 1:
        raise VizError(f"--video-episodes {episodes}: expected at least 1")
    if path.suffix.lower() != ".mp4":
        raise VizError(f"--video {path}: expected a path ending in .mp4 (the GIF is written beside it)")
    writable_dir(path.parent, "the video")
    fps = fps or FPS.get(agent.config.env.id, DEFAULT_FPS)
    names = action_names(agent)
    tmp = path.with_name(f".{path.stem}.tmp.mp4")
    generator = torch.Generator(device=agent.device).manual_seed(seed)
    values: list[float] = []
    returns: list[float] = []
    frames = steps = 0
    episode_return = 0.0
    try:
        with contextlib.ExitStack() as stack:  # closed in reverse: the bar, the encoder (it ends the file), the env
            env = RenderedEnv(agent, seed)
            stack.callback(env.close)
            writer = stack.enter_context(imageio.get_writer(
                tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", pixelformat="yuv420p", quality=7,
                macro_block_size=1, ffmpeg_params=["-movflags", "+faststart"], ffmpeg_log_level="error"))
            bar = stack.enter_context(CountBar("video steps", max_steps or None))
            obs = env.reset(seed=seed)
            while True:
                out = agent.outputs(obs)
                values.append(float(out.value[0]))
                action = agent.act(obs, generator)
                header = _panel_lines(agent, len(returns) + 1, episodes, episode_return)
                writer.append_data(compose(env.frame(), header, values, out.scores[0].tolist(), names,
                                           _chosen(agent, action), agent))
                frames += 1
                bar.advance(text=f"episode {len(returns) + 1}/{episodes}")
                if len(returns) == episodes or (max_steps and steps >= max_steps):
                    break
                obs, reward, _, _, info = env.step(action)
                steps += 1
                episode_return += float(reward[0])
                if bool(info["episode_end"][0]):
                    returns.append(float(info["episode_return"][0]))
                    episode_return = 0.0
                    values.clear()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    gif_path = write_gif(path, frames, fps) if gif else None
    return VideoResult(mp4=path, gif=gif_path, frames=frames, returns=returns)


def write_gif(mp4: Path, frames: int, fps: int) -> Path:
    """A GIF copy of ``mp4`` (of ``frames`` frames) beside it: every k-th frame (at most ``GIF_FRAMES``), at
    most ``GIF_WIDTH`` wide."""
    import imageio.v3 as iio

    stride = max(1, -(-frames // GIF_FRAMES))
    kept = []
    for i, frame in enumerate(decoded_frames(mp4)):
        if i % stride == 0:
            image = Image.fromarray(frame)
            if image.width > GIF_WIDTH:
                image = image.resize((GIF_WIDTH, round(image.height * GIF_WIDTH / image.width)), Image.BILINEAR)
            kept.append(np.asarray(image))
    gif = mp4.with_suffix(".gif")
    tmp = gif.with_name(f".{gif.stem}.tmp.gif")
    iio.imwrite(tmp, np.stack(kept), extension=".gif", duration=1000 * stride / fps, loop=0)
    os.replace(tmp, gif)
    return gif


def decoded_frames(mp4: Path):
    """The frames of ``mp4`` as [H, W, 3] uint8 arrays, decoded by imageio-ffmpeg's ffmpeg."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(mp4))
    meta = next(reader)
    width, height = meta["size"]
    for raw in reader:
        yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def writable_dir(folder: Path, what: str) -> None:
    """Make ``folder`` (for ``what``) or say in one line why it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise VizError(f"cannot write {what} into {folder}: {err.strerror or err}") from None
    if not os.access(folder, os.W_OK):
        raise VizError(f"cannot write {what} into {folder}: the folder is not writable")


# ---------------------------------------------------------------------------------------------------------
# Drawing a frame
# ---------------------------------------------------------------------------------------------------------


def compose(frame: np.ndarray, header: list[str], values: list[float], scores: list[float], names: list[str],
            chosen: int | None, agent: Agent) -> np.ndarray:
    """The env's frame (scaled up to ``MIN_HEIGHT``) and the panel beside it, padded to ``BLOCK`` multiples."""
    scale = max(1, -(-MIN_HEIGHT // frame.shape[0]))
    if scale > 1:
        frame = np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)
    height = frame.shape[0]
    panel = Image.new("RGB", (PANEL_WIDTH, height), PANEL)
    draw = ImageDraw.Draw(panel)
    font = _font(14)
    y = 8
    for line in header:
        draw.text((10, y), line, fill=INK, font=font)
        y += 18
    chart_h = max(60, (height - y) // 2 - 30)
    draw.text((10, y + 4), f"{agent.value_name} = {values[-1]:.3f}", fill=INK, font=font)
    _line_chart(draw, values[-VALUE_WINDOW:], (10, y + 24, PANEL_WIDTH - 10, y + 24 + chart_h))
    y += chart_h + 36
    draw.text((10, y), agent.score_name, fill=INK, font=font)
    _bars(draw, scores, names, chosen, (10, y + 20, PANEL_WIDTH - 10, height - 8), agent.score_name == "P(a|s)")
    picture = np.concatenate([frame, np.asarray(panel)], axis=1)
    pad_h, pad_w = (-picture.shape[0]) % BLOCK, (-picture.shape[1]) % BLOCK
    if pad_h or pad_w:
        picture = np.pad(picture, ((0, pad_h), (0, pad_w), (0, 0)), constant_values=255)
    return picture


def _line_chart(draw: ImageDraw.ImageDraw, values: list[float], box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    draw.rectangle(box, outline=FAINT)
    low, high = min(values), max(values)
    if high - low < 1e-6:
        low, high = low - 0.5, high + 0.5
    font = _font(11)
    draw.text((left + 3, top + 2), f"{high:.3g}", fill=FAINT, font=font)
    draw.text((left + 3, bottom - 14), f"{low:.3g}", fill=FAINT, font=font)
    if len(values) < 2:
        return
    span = max(len(values) - 1, 1)
    points = [(left + (right - left) * i / max(span, 30),
               bottom - (bottom - top) * (v - low) / (high - low)) for i, v in enumerate(values)]
    draw.line(points, fill=CHOSEN, width=2)


def _bars(draw: ImageDraw.ImageDraw, scores: list[float], names: list[str], chosen: int | None,
          box: tuple[int, int, int, int], probabilities: bool) -> None:
    """One horizontal bar per action; probabilities from 0 to 1, other scores between their min and max."""
    left, top, right, bottom = box
    font = _font(12)
    row = min(24, max(10, (bottom - top) // max(len(scores), 1)))
    low, high = (0.0, 1.0) if probabilities else (min(min(scores), 0.0), max(max(scores), 0.0))
    if high - low < 1e-9:
        high = low + 1.0
    label_w = 90
    span = right - left - label_w - 72  # room for the number at the right
    zero = left + label_w + span * (0.0 - low) / (high - low)
    for i, (score, name) in enumerate(zip(scores, names, strict=True)):
        y = top + i * row
        if y + row > bottom:
            break
        x = left + label_w + span * (score - low) / (high - low)
        draw.text((left, y), name[:12], fill=INK, font=font)
        draw.rectangle([min(zero, x), y + 2, max(zero, x) + 1, y + row - 4], fill=CHOSEN if i == chosen else BAR)
        draw.text((right - 64, y), f"{score:.3g}", fill=INK, font=font)


def _panel_lines(agent: Agent, episode: int, episodes: int, episode_return: float) -> list[str]:
    c = agent.config
    return [f"{c.env.id}  {c.algo}  env step {agent.env_steps:,}", f"episode {min(episode, episodes)}/{episodes}  "
            f"return so far {episode_return:.4g}", f"policy: {agent.policy_description}"]


def _chosen(agent: Agent, action: torch.Tensor) -> int | None:
    return int(action.reshape(-1)[0]) if agent.discrete else None


@functools.cache
def _font(size: int):
    """DejaVu Sans, which matplotlib ships (PIL's default font has no μ, θ or ±)."""
    from matplotlib import font_manager

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def action_names(agent: Agent) -> list[str]:
    """Names of the actions (Atari: the ROM's action set; Catch, CartPole: their moves; else a0, a1, ...)."""
    env_id = agent.config.env.id
    known = {"Catch-v0": ["left", "stay", "right"], "CartPole-v1": ["push left", "push right"]}
    if env_id in known:
        return known[env_id]
    if not agent.discrete:
        return [f"a{i}" for i in range(int(np.prod(agent.action_space.shape)))]
    from fastrl.envs.atari import is_atari_id, rom_name

    if is_atari_id(env_id):
        from ale_py import ALEInterface, LoggerMode, roms

        ALEInterface.setLoggerMode(LoggerMode.Error)
        ale = ALEInterface()
        ale.loadROM(roms.get_rom_path(rom_name(env_id)))
        full = agent.config.env.make_options().get("full_action_space", False)
        actions = ale.getLegalActionSet() if full else ale.getMinimalActionSet()
        if len(actions) == agent.action_space.n:
            return [a.name for a in actions]
    return [f"a{i}" for i in range(int(agent.action_space.n))]

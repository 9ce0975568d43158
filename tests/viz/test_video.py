"""``fastrl eval RUN_DIR --video``: the MP4 decodes to the frames written, the GIF beside it, one-line errors."""

from __future__ import annotations

import dataclasses

import imageio_ffmpeg
import numpy as np
import pytest

from fastrl.cli import main
from fastrl.viz.agent import VizError, load_agent
from fastrl.viz.frames import RenderedEnv, render_cartpole, render_catch
from fastrl.viz.video import decoded_frames, record_video


def test_the_mp4_holds_one_frame_per_observation_of_its_episodes(catch_run, tmp_path):
    result = record_video(load_agent(catch_run), tmp_path / "catch.mp4", episodes=3)
    rows = 10  # a Catch episode: the ball falls rows - 1 steps, so rows observations, each a frame
    assert len(result.returns) == 3 and result.frames == 3 * rows
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(result.mp4))
    assert frames == result.frames
    first = next(decoded_frames(result.mp4))
    assert first.shape[0] % 16 == 0 and first.shape[1] % 16 == 0 and first.std() > 10  # a picture, not blank
    assert result.gif.is_file() and result.gif.stat().st_size > 0


def test_max_steps_cuts_a_cartpole_episode_and_the_frames_are_drawn_in_colour(cartpole_run, tmp_path):
    result = record_video(load_agent(cartpole_run), tmp_path / "cartpole.mp4", max_steps=40, gif=False)
    assert result.frames == 41 and result.gif is None
    assert sum(1 for _ in decoded_frames(result.mp4)) == 41


def test_native_renderers_draw_the_state():
    board = np.zeros((10, 5), np.float32)
    board[3, 1] = board[9, 4] = 1.0
    image = render_catch(board)
    assert image.shape == (400, 200, 3)
    ball = image[3 * 40 + 20, 1 * 40 + 20]
    assert ball[0] > 200 and ball[2] < 100  # red ball where the board says
    upright, tilted = render_cartpole(np.zeros(4)), render_cartpole(np.array([0.0, 0.0, 0.2, 0.0]))
    assert upright.shape == (400, 600, 3) and not np.array_equal(upright, tilted)


def test_eval_video_from_the_command_line_and_its_one_line_errors(catch_run, tmp_path, capsys):
    assert main(["eval", str(catch_run), "--episodes", "2", "--video"]) == 0
    out = capsys.readouterr().out
    assert "video: " in out and (catch_run / "videos").is_dir()
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert main(["eval", str(catch_run), "--episodes", "2", "--video", str(blocked / "v.mp4")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fastrl eval: error: cannot write the video into") and "\n" not in err
    assert main(["eval", str(tmp_path / "missing"), "--video"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".avi", ".gif"])
def test_a_video_path_must_be_an_mp4(catch_run, tmp_path, suffix, capsys):
    assert main(["eval", str(catch_run), "--video", str(tmp_path / f"v{suffix}")]) == 2
    assert "expected a path ending in .mp4" in capsys.readouterr().err


@pytest.mark.parametrize(("backend", "says"), [("ale", "this backend cannot render its frames"),
                                               ("gymnasium", "the Atari protocol's wrappers hide the screen")])
def test_an_env_that_cannot_render_is_refused_in_one_line(catch_run, backend, says):
    agent = load_agent(catch_run)
    env = dataclasses.replace(agent.config.env, id="Pong-v5", backend=backend)
    agent.config = dataclasses.replace(agent.config, env=env)
    with pytest.raises(VizError, match=says) as error:
        RenderedEnv(agent, seed=0)
    assert "\n" not in str(error.value) and "Pong-v5" in str(error.value)

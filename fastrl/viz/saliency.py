"""Perturbation saliency (Greydanus et al. 2018, "Visualizing and Understanding Atari Agents"), actor and critic.

For an image-like observation I (stacked frames [C, H, W] or a board [H, W]) and a location (i, j):

    Φ(I, i, j) = I ⊙ (1 − M(i, j)) + A(I) ⊙ M(i, j)

where M(i, j) is a Gaussian mask centred at (i, j) and A(I) is I blurred by a Gaussian: the information at
(i, j) is removed without adding new features. The saliency of (i, j) is how much the network's answer moves:

    actor:   S_π(i, j) = ½ ‖scores(I) − scores(Φ(I, i, j))‖²      (P(a|s) or Q(s, ·), see ``fastrl.viz.agent``)
    critic:  S_V(i, j) = ½ (value(I) − value(Φ(I, i, j)))²

computed every ``stride`` pixels and spread back to full size (bilinear). The paper's sizes are for 84x84 frames
(mask σ 5, blur σ 3, stride 5); other sizes scale them, a small board down to one cell. (The paper's actor map
uses the policy's logits; here the scores the video shows, so the map is on the scale of what the agent does.)

A constant image is its own blur, so every perturbation is the image itself and both maps are exactly zero:
the blur runs in float64, so the perturbed values round back to the image's own, and each batch's reference
row is the unperturbed image run in the same batch (a conv's result can depend on the batch size).

Vector observations (CartPole's state) have no neighbourhood to blur: ``vector_saliency`` moves one feature at
a time by its standard deviation over the visited states.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from fastrl.viz.agent import Agent

#: the paper's sizes, for 84x84 frames
PAPER_SIZE, PAPER_MASK_SIGMA, PAPER_BLUR_SIGMA, PAPER_STRIDE = 84, 5.0, 3.0, 5
#: perturbed images run through the network at once
CHUNK = 256


def sizes_for(height: int, width: int) -> tuple[float, float, int]:
    """(mask σ, blur σ, stride) for an image of this size: the paper's, scaled, at least one pixel each."""
    scale = max(height, width) / PAPER_SIZE
    return (max(1.0, PAPER_MASK_SIGMA * scale), max(1.0, PAPER_BLUR_SIGMA * scale),
            max(1, round(PAPER_STRIDE * scale)))


@torch.no_grad()
def saliency(agent: Agent, obs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Actor and critic saliency maps [H, W] (float64) of one image-like observation ``obs`` ([C, H, W] or [H, W],
    as the env gives it)."""
    image = obs.detach().cpu().double().numpy()
    height, width = image.shape[-2:]
    mask_sigma, blur_sigma, stride = sizes_for(height, width)
    spatial = (0,) * (image.ndim - 2) + (blur_sigma, blur_sigma)
    blurred = gaussian_filter(image, sigma=spatial, mode="nearest")
    rows, cols = np.arange(0, height, stride), np.arange(0, width, stride)
    centres = [(i, j) for i in rows for j in cols]
    yy, xx = np.mgrid[:height, :width]
    actor, critic = np.zeros(len(centres)), np.zeros(len(centres))
    reference = torch.as_tensor(image, dtype=torch.float32)
    for start in range(0, len(centres), CHUNK):
        batch = [reference]
        for i, j in centres[start:start + CHUNK]:
            mask = np.exp(-((yy - i) ** 2 + (xx - j) ** 2) / (2 * mask_sigma ** 2))
            batch.append(torch.as_tensor(image * (1 - mask) + blurred * mask, dtype=torch.float32))
        out = agent.outputs(torch.stack(batch))
        scores, value = out.scores.double(), out.value.double()
        end = start + len(batch) - 1
        actor[start:end] = (0.5 * (scores[1:] - scores[0]).square().sum(-1)).cpu().numpy()
        critic[start:end] = (0.5 * (value[1:] - value[0]).square()).cpu().numpy()
    return (_to_full_size(actor.reshape(len(rows), len(cols)), height, width),
            _to_full_size(critic.reshape(len(rows), len(cols)), height, width))


def _to_full_size(coarse: np.ndarray, height: int, width: int) -> np.ndarray:
    """A map computed every ``stride`` pixels, bilinear to [height, width] (the same map at stride 1)."""
    if coarse.shape == (height, width):
        return coarse
    t = torch.as_tensor(coarse)[None, None]
    return torch.nn.functional.interpolate(t, size=(height, width), mode="bilinear", align_corners=False)[0, 0].numpy()


@torch.no_grad()
def vector_saliency(agent: Agent, obs: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Actor and critic saliency [N, D] of N vector observations [N, D]: feature k of each state moved by the
    standard deviation of feature k over the N states."""
    obs = obs.detach().float().reshape(obs.shape[0], -1)
    n, d = obs.shape
    spread = obs.std(dim=0).clamp(min=1e-6)
    base = agent.outputs(obs)
    moved = obs[None].repeat(d, 1, 1)  # [D, N, D]: copy k has feature k moved
    moved[torch.arange(d), :, torch.arange(d)] += spread[:, None]
    out = agent.outputs(moved.reshape(d * n, d))
    scores, value = out.scores.reshape(d, n, -1), out.value.reshape(d, n)
    actor = 0.5 * (scores - base.scores[None]).square().sum(-1)
    critic = 0.5 * (value - base.value[None]).square()
    return actor.T.double().cpu().numpy(), critic.T.double().cpu().numpy()


def overlay(frame: np.ndarray, actor: np.ndarray, critic: np.ndarray) -> np.ndarray:
    """The env's frame [h, w, 3] with the actor's map in blue and the critic's in red on top (the paper's colours),
    each map scaled to its own maximum and stretched to the frame's size."""
    from PIL import Image

    h, w = frame.shape[:2]
    out = frame.astype(np.float64)
    for saliency_map, channel in ((actor, 2), (critic, 0)):
        peak = saliency_map.max()
        if peak <= 0:
            continue
        resized = np.asarray(Image.fromarray((saliency_map / peak).astype(np.float32)).resize((w, h), Image.BILINEAR))
        out[..., channel] += 255 * resized.clip(0, 1) * 0.8
    return out.clip(0, 255).astype(np.uint8)


#: names of the state features of the vector envs whose layout is known
FEATURE_NAMES = {"CartPole-v1": ["x", "ẋ", "θ", "θ̇"]}


def plot_saliency(agent: Agent, obs: torch.Tensor, frames: list[np.ndarray], path, *, count: int = 4):
    """Image observations: ``count`` states evenly spread over ``obs`` (with their env ``frames``), each frame
    with its actor (blue) and critic (red) maps on top. Vector observations: the per-feature maps of every state
    over the episode, actor and critic side by side. Writes ``path`` (PNG)."""
    from fastrl.viz.figures import new_figure, save_png

    title = f"{agent.config.env.id} {agent.config.algo}, env step {agent.env_steps:,}"
    if agent.is_image:
        picks = np.linspace(0, len(obs) - 1, count).round().astype(int)
        fig = new_figure(3.2 * count, 4.2)
        for k, t in enumerate(picks):
            actor, critic = saliency(agent, obs[t])
            ax = fig.add_subplot(1, count, k + 1)
            ax.imshow(overlay(frames[t], actor, critic))
            ax.set_title(f"step {t}: actor max {actor.max():.2g}, critic max {critic.max():.2g}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(f"perturbation saliency (Greydanus et al. 2018), actor blue, critic red: {title}", fontsize=10)
        return save_png(fig, path)
    actor, critic = vector_saliency(agent, obs)
    names = FEATURE_NAMES.get(agent.config.env.id, [f"s{i}" for i in range(actor.shape[1])])
    fig = new_figure(11, 4.2)
    for k, (grid, label) in enumerate(((actor, f"actor: ½‖Δ {agent.score_name}‖²"),
                                       (critic, f"critic: ½ (Δ {agent.value_name})²"))):
        ax = fig.add_subplot(1, 2, k + 1)
        image = ax.imshow(grid.T, aspect="auto", cmap="magma", interpolation="nearest")
        fig.colorbar(image, ax=ax)
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("step of play (one env, episodes one after another)")
        ax.set_title(label, fontsize=10)
    fig.suptitle(f"saliency of each state feature, moved by its std over the states played: {title}", fontsize=10)
    return save_png(fig, path)

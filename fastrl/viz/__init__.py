"""Seeing what an agent learned: eval videos, saliency, t-SNE, first-layer filters, value heat maps, one HTML
report per run, and several runs in one plot.

Each module does one job and reads a run directory only through ``fastrl.runner.load_run_config`` and
``fastrl.checkpoint``: ``agent`` (the trained network of a run and what it says about a state), ``frames`` (the
env's own pictures), ``video`` (MP4 and GIF of evaluation episodes), ``saliency`` (Greydanus et al. 2018),
``embedding`` (t-SNE of the last hidden layer), ``filters`` (the first layer's weights), ``heatmap`` (the value
and the policy over a native env's whole state grid), ``curves`` (a run's logged curves), ``report`` (one
self-contained HTML page), ``plot`` (several runs: bootstrap bands, interquartile mean, final scores), and
``commands`` (``fastrl viz``).
"""

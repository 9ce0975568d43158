"""Tabular reinforcement learning (Sutton & Barto, chapters 4-6): small and exact, for teaching and as the
correctness anchor of the deep methods.

mdp.py       a finite MDP as tables P[s, a, s'], R[s, a], and the exact value of a policy (a linear solve)
grids.py     the book's 4x4 gridworld (Example 4.1) and cliff walking (Example 6.6)
env.py       sampling an MDP as an environment, for a batch of independent runs
policies.py  greedy / epsilon-greedy choice with random tie-breaking
dp.py        policy evaluation, policy iteration, value iteration
episodes.py  batches of whole episodes, their returns and first visits
mc.py        first- and every-visit Monte-Carlo prediction and control
td.py        TD(0) prediction; SARSA, Q-learning and Expected SARSA control
threads.py   the one-thread rule of these tiny tensors
intervals.py the confidence statements over runs (t, Clopper-Pearson, BCa bootstrap)
cliff.py     S&B Example 6.6: the runs and the greedy paths they learn
figure.py    its figure (Figure 6.4)
command.py   ``fastrl tabular cliff`` and ``fastrl tabular gridworld``
"""

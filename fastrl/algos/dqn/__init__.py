"""DQN and its variants (double, dueling, C51, n-step, prioritized): ``spec.py`` declares it, ``learner.py`` is
the learner and its loop."""

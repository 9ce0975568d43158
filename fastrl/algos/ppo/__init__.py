"""PPO and A2C: ``spec.py`` declares them, ``learner.py`` is the learner and its rollout loop."""

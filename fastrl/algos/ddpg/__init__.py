"""DDPG, TD3 and D4PG, one learner of three names: ``spec.py`` declares it, ``learner.py`` is the learner and
its loop."""

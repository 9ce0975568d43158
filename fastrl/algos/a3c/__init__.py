"""A3C and async Q-learning on Hogwild workers: ``spec.py`` declares them, ``learner.py`` holds the workers,
the evaluator and the supervisor."""

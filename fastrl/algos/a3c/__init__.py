"""A3C and async Q-learning on Hogwild workers: ``spec.py`` declares them, ``workers.py`` holds their
actor-learners; the evaluator and the supervisor they share with UNREAL are ``fastrl.algos.asynchronous``."""

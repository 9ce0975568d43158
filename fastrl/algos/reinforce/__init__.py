"""REINFORCE with or without a learned baseline: spec.py declares it, learner.py learns, episodes.py keeps the
episodes."""

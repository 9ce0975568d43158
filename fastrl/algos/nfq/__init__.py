"""Neural fitted Q iteration: spec.py declares it, learner.py learns, transitions.py keeps the growing batch."""

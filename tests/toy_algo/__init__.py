"""A toy learner family registered by a test: all that adding a learner takes is this folder and one line of
``fastrl.algos.SPECS``."""

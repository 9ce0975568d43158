"""IMPALA: spec.py declares it, actors.py is the actor processes, learner.py the V-trace learner and its loop."""

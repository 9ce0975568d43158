"""What the asynchronous (Hogwild) actor-learners share, A3C and async Q-learning (``fastrl.algos.a3c``) and
UNREAL (``fastrl.algos.unreal``): the network (``network.py``), a worker's plumbing and the evaluator
(``workers.py``), the supervisor (``supervisor.py``) and the checks of their specs (``checks.py``). No family
owns it, so that no family imports another's. Nothing is imported here: ``checks.py`` is light (no torch), for
the specs."""

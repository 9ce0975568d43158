"""UNREAL (Jaderberg et al. 2017) on Hogwild workers: ``spec.py`` declares it and its presets, ``workers.py``
holds its actor-learner, ``losses.py`` the auxiliary losses, ``replay.py`` each worker's replay, ``network.py``
the auxiliary heads."""

"""The hot kernels. One folder per op; ``reference.py`` in each is its specification.

See ``fastrl.ops._registry`` for how a backend is chosen and ``FASTRL_BACKEND`` for overriding it.
"""

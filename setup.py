"""The one packaging line pyproject.toml cannot say: the package list.

The CUDA C sources stay in ``kernels/`` at the repository's top level; pyproject.toml maps that folder to the
package ``fastrl.kernels`` (``[tool.setuptools.package-dir]``) so that a wheel ships them as
``fastrl/kernels/*.cu``. setuptools' ``packages.find`` cannot discover a package whose folder lies outside
``fastrl/``, and ``packages`` is either ``find`` or a list, so the list is built here: every package under
``fastrl/`` plus the mapped one. Everything else is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

setup(packages=[*find_namespace_packages(include=["fastrl*"], exclude=["fastrl.kernels*"]), "fastrl.kernels"])

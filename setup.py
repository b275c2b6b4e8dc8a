"""Only what pyproject.toml cannot say: the package list.

Everything else (metadata, dependencies, package-dir, package-data) is in pyproject.toml.
``castlegate_deploy`` is not a folder of its own: pyproject.toml maps it to the top-level
``deploy/`` folder, so the wheel carries deploy/neo4j's pom.xml and conf template.
"""

from setuptools import find_namespace_packages, setup

setup(packages=find_namespace_packages(include=["graph*", "service*"]) + ["castlegate_deploy"])

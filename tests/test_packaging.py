"""The wheel is a working install: every module of graph/ and service/, the entry point, and
the local Neo4j's pom.xml and conf template (deploy/neo4j, shipped as ``castlegate_deploy``),
which service/neo4j_local.py finds both in a checkout and in an installed wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from service import neo4j_local

ROOT = Path(__file__).resolve().parents[1]
NEO4J_FILES = ("pom.xml", "neo4j.conf.template")
# what building the wheel reads; copied so the build leaves nothing in the checkout
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "graph", "service", "deploy")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    return src


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    """The wheel, built the way `make install` builds: this interpreter, its (locked)
    setuptools, no build isolation, no dependencies."""
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
         "-q", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    (built,) = out.glob("castlegate-*.whl")
    return built


def test_wheel_has_every_module_the_entry_point_and_the_neo4j_resources(source, wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("graph", "service"):
        assert f"{package}/__init__.py" in names
        modules = {p.relative_to(source).as_posix() for p in (source / package).rglob("*.py")}
        assert modules - names == set(), "modules missing from the wheel (see setup.py)"
    assert not any(n.startswith(("tests/", "bench/", "deploy/", "ui/")) for n in names)
    # the map page `make install` built from ui/ is package data of service (pyproject.toml)
    if (ROOT / "service" / "ui_dist" / "index.html").is_file():
        assert {f"service/ui_dist/{f}" for f in ("index.html", "app.js", "app.css")} <= names

    with zipfile.ZipFile(wheel) as zf:
        for name in NEO4J_FILES:
            shipped = zf.read(f"castlegate_deploy/neo4j/{name}")
            assert shipped == (ROOT / "deploy" / "neo4j" / name).read_bytes()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "castlegate = service.cli:main" in zf.read(entry_points).decode()


def test_a_checkout_finds_deploy_neo4j(monkeypatch):
    monkeypatch.delenv("CASTLEGATE_DEPLOY_DIR", raising=False)
    folder = neo4j_local.deploy_dir()
    assert folder == ROOT / "deploy" / "neo4j"
    assert all((folder / name).is_file() for name in NEO4J_FILES)


def test_an_installed_wheel_finds_its_neo4j_resources(wheel, tmp_path):
    """The wheel unpacked as pip installs it (pure Python: files as they are) and run with
    no site-packages (-S), so nothing of the checkout can be found: the launcher reads
    its pom.xml from the package, and `status` works."""
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASTLEGATE_", "NEO4J_"))}
    env |= {"PYTHONPATH": str(site), "CASTLEGATE_NEO4J_HOME": str(tmp_path / "state"),
            "CASTLEGATE_NEO4J_CACHE": str(tmp_path / "cache")}

    def run(*args: str) -> str:
        result = subprocess.run([sys.executable, "-S", *args], cwd=elsewhere, env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    found = Path(run("-c", "from service.neo4j_local import deploy_dir; print(deploy_dir())").strip())
    assert found == site / "castlegate_deploy" / "neo4j"
    assert all((found / name).is_file() for name in NEO4J_FILES)

    version = neo4j_local._read_pom_version(ROOT / "deploy" / "neo4j" / "pom.xml")
    status = json.loads(run("-m", "service.neo4j_local", "status"))
    assert status["running"] is False
    assert status["lib_dir"] == str(tmp_path / "cache" / version / "lib")

"""environment.yml (conda) and pyproject.toml (pip) must list the same packages.

Both files are parsed; the package names (conda's ``pytorch`` is pip's ``torch``) and their
version bounds are compared, so adding a dependency to one file and not the other fails here.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PIP = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}  # the interpreter and the installer, not dependencies


def canonical(name: str) -> str:
    """PEP 503 normalised name (``Jupyter_Book`` -> ``jupyter-book``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_requirements() -> dict[str, SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    found: dict[str, SpecifierSet] = {}
    for line in lines:
        requirement = Requirement(line)
        found[canonical(requirement.name)] = requirement.specifier
    return found


def conda_spec(entry: str) -> tuple[str, SpecifierSet]:
    """``numpy>=1.24`` or ``jupyter-book>=1.0,<2`` -> (name, specifier); conda names mapped."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", entry)
    assert match, f"cannot parse environment.yml entry {entry!r}"
    name, spec = canonical(match.group(1)), match.group(2).replace(" ", "")
    return CONDA_TO_PIP.get(name, name), SpecifierSet(spec)


def environment_entries() -> tuple[list[str], list[str]]:
    """(conda entries, pip entries) of environment.yml."""
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = [], []
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            pip.extend(entry.get("pip", []))
        else:
            conda.append(str(entry))
    return conda, pip


def environment_requirements() -> dict[str, SpecifierSet]:
    conda, pip = environment_entries()
    found: dict[str, SpecifierSet] = {}
    for entry in conda:
        name, spec = conda_spec(entry)
        if name not in NOT_PACKAGES:
            found[name] = spec
    for entry in pip:
        if entry.strip().startswith("-e"):
            continue  # the project itself, installed in editable mode
        requirement = Requirement(entry)
        found[canonical(requirement.name)] = requirement.specifier
    return found


def test_same_package_names():
    pip_side, conda_side = set(pyproject_requirements()), set(environment_requirements())
    assert pip_side == conda_side, (
        f"only in pyproject.toml: {sorted(pip_side - conda_side)}; "
        f"only in environment.yml: {sorted(conda_side - pip_side)}"
    )


def test_same_version_bounds():
    pip_side, conda_side = pyproject_requirements(), environment_requirements()
    differing = {name: (str(pip_side[name]), str(conda_side[name]))
                 for name in pip_side.keys() & conda_side.keys()
                 if pip_side[name] != conda_side[name]}
    assert not differing, f"version bounds differ (pyproject, environment): {differing}"


def test_torch_is_pytorch_on_conda_and_a_conda_package():
    conda, pip = environment_entries()
    conda_names = {conda_spec(entry)[0] for entry in conda}
    raw_conda = {re.split(r"[<>=!~ ]", entry.strip())[0] for entry in conda}
    assert "pytorch" in raw_conda and "torch" not in raw_conda
    assert "torch" in conda_names
    assert not any(canonical(Requirement(e).name) == "torch" for e in pip if not e.startswith("-e"))


def test_python_bound_matches_requires_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda, _ = environment_entries()
    python = [conda_spec(entry)[1] for entry in conda if conda_spec(entry)[0] == "python"]
    assert python == [SpecifierSet(project["requires-python"])]


@pytest.mark.parametrize("side", ["pyproject", "environment"])
def test_a_package_added_to_one_side_is_caught(side, monkeypatch):
    """The comparison is not vacuous: one extra package on either side makes it fail."""
    original = pyproject_requirements if side == "pyproject" else environment_requirements
    monkeypatch.setitem(globals(), f"{side}_requirements",
                        lambda: {**original(), "leftpad": SpecifierSet()})
    with pytest.raises(AssertionError, match="leftpad"):
        test_same_package_names()


def oldest_constraints() -> dict[str, str]:
    """``constraints/oldest.txt``: package name -> the exact version pinned there."""
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints" / "oldest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonical(name)] = version
    return pins


def lower_bound(specifier: SpecifierSet) -> str | None:
    return next((s.version for s in specifier if s.operator == ">="), None)


def test_oldest_constraints_are_the_declared_lower_bounds():
    """``make test-oldest`` tests exactly the lower bounds that pyproject.toml promises."""
    declared = pyproject_requirements()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {canonical(Requirement(line).name) for line in project["dependencies"]}
    pins = oldest_constraints()
    unpinned = sorted(runtime - pins.keys())
    assert not unpinned, f"runtime dependencies not in constraints/oldest.txt: {unpinned}"
    bounds = {name: lower_bound(declared.get(name, SpecifierSet())) for name in pins}
    differing = {name: (bounds[name], version) for name, version in pins.items()
                 if Version(bounds[name] or "0") != Version(version)}
    assert not differing, f"pyproject lower bound vs constraints/oldest.txt: {differing}"

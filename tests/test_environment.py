"""One environment for learners, CI and the grader: exact pins, kept in step across the files that state them."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from grader.course import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = dict(
    line.split("==", 1)
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    if line and not line.startswith("#")
)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_requirements() -> list[str]:
    project = PYPROJECT["project"]
    return project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]


def test_every_direct_dependency_is_pinned_exactly_and_agrees_with_the_lock() -> None:
    lock = {normalise(k): v for k, v in LOCK.items()}
    for requirement in direct_requirements():
        name, sep, version = requirement.partition("==")
        assert sep and re.fullmatch(r"[\w.]+", version), f"{requirement!r} is not an exact pin"
        locked = lock.get(normalise(name))
        assert locked == version, f"{requirement} in pyproject.toml, but requirements.lock has {locked}"


def test_torch_is_pinned_to_the_cpu_build_everywhere() -> None:
    # A looser torch requirement pulls a multi-GB CUDA build.
    assert "torch==2.13.0" in PYPROJECT["project"]["dependencies"]
    assert LOCK["torch"] == "2.13.0"


def test_the_lock_pins_every_package_exactly() -> None:
    for name, version in LOCK.items():
        assert re.fullmatch(r"[\w.]+", version), f"{name}=={version} is not an exact, portable pin"


def test_conda_environment_installs_the_lock_and_the_project() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11"], "environment.yml and pyproject.toml must agree on Python 3.11"
    assert PYPROJECT["project"]["requires-python"].startswith(">=3.11,<3.12")
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-r requirements.lock", "-e .[test]"]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in readme and "make start" in readme
    assert ci.strip().splitlines()[-1] == "make test"
    assert "set -euo pipefail" in ci


@pytest.mark.xdist_group("environment")
def test_xdist_loadgroup_keeps_a_group_on_one_worker(request: pytest.FixtureRequest) -> None:
    # Notebook kernels and the grading batch are shared by a group's tests; a split group runs them twice.
    if not getattr(request.config.option, "loadgroup", False):  # set on the workers of `--dist loadgroup`
        pytest.skip("not running under pytest-xdist --dist loadgroup")
    assert request.node.nodeid.endswith("@environment"), "pytest-xdist no longer honours xdist_group here"


def test_readme_lists_exactly_the_syllabus_modules() -> None:
    from grader.course import load_syllabus

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d\d-[a-z0-9-]+) \| (.+?) \| (\d+) \|$", readme, flags=re.MULTILINE)
    expected = [(m.id, m.title, f"{m.points:g}") for m in load_syllabus().modules]
    assert rows == expected, "update the Modules table of README.md from course/syllabus.yml"

"""The course manifest (course/syllabus.yml) and the paths that follow from it.

Nothing else in the project hard-codes the list of modules: tests and commands
iterate `load_syllabus().modules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SYLLABUS = ROOT / "course" / "syllabus.yml"
LAB_NOTEBOOK = "lab.ipynb"
LECTURE_NOTEBOOK = "lecture.ipynb"


@dataclass(frozen=True)
class Module:
    """One module of the course, as the syllabus describes it."""

    id: str
    title: str
    minutes: int
    points: float
    objectives: tuple[str, ...] = field(default_factory=tuple)
    skills: tuple[str, ...] = field(default_factory=tuple)

    @property
    def lecture(self) -> Path:
        return ROOT / "course" / self.id / LECTURE_NOTEBOOK

    @property
    def solution(self) -> Path:
        return ROOT / "solutions" / self.id / LAB_NOTEBOOK

    @property
    def lab(self) -> Path:
        return ROOT / "labs" / self.id / LAB_NOTEBOOK

    @property
    def answers(self) -> Path:
        """The authors' list of plausible wrong (and alternative right) answers."""
        return ROOT / "tests" / "answers" / f"{self.id}.yml"


@dataclass(frozen=True)
class Syllabus:
    title: str
    modules: tuple[Module, ...]

    def module(self, module_id: str) -> Module:
        for module in self.modules:
            if module.id == module_id:
                return module
        known = ", ".join(m.id for m in self.modules)
        raise KeyError(f"no module {module_id!r} in {SYLLABUS.name}; known: {known}")


@cache
def load_syllabus(path: Path = SYLLABUS) -> Syllabus:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    modules = tuple(
        Module(
            id=m["id"],
            title=m["title"],
            minutes=int(m["minutes"]),
            points=float(m["points"]),
            objectives=tuple(m.get("objectives", ())),
            skills=tuple(m.get("skills", ())),
        )
        for m in raw["modules"]
    )
    return Syllabus(title=raw["title"], modules=modules)


def all_notebooks() -> list[Path]:
    """Every notebook the course ships or authors, in syllabus order."""
    paths: list[Path] = []
    for module in load_syllabus().modules:
        paths += [module.lecture, module.solution, module.lab]
    return paths

"""Write the student notebooks of `labs/` from the instructor notebooks of `solutions/`.

This is nbgrader's GenerateAssignment, run with the course's nbgrader_config.py;
`release` takes another release folder so that tests can regenerate into a
temporary one and compare it with the committed `labs/`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from grader.course import ROOT

NBGRADER_CONFIG = "nbgrader_config.py"


def course_config() -> Config:
    """The course's nbgrader settings, read from nbgrader_config.py at the project root."""
    return PyFileConfigLoader(NBGRADER_CONFIG, path=str(ROOT)).load_config()


def release(module_id: str, release_root: Path | None = None) -> Path:
    """Generate the student version of one module's lab; return its folder.

    ``release_root`` defaults to the configured release directory (``labs/``).
    """
    config = course_config()
    if release_root is not None:
        config.CourseDirectory.release_directory = str(release_root)
    coursedir = CourseDirectory(config=config, root=str(ROOT), assignment_id=module_id)
    converter = GenerateAssignment(coursedir=coursedir, config=config, force=True)
    if not converter.log.handlers:  # nbgrader logs why a release failed; show it
        converter.log.addHandler(logging.StreamHandler())
    converter.log.setLevel(logging.WARNING)
    converter.start()
    return Path(coursedir.format_path(coursedir.release_directory, ".", module_id))

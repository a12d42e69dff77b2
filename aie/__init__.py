"""Helpers shared by every notebook of the course.

Notebooks import from here instead of copying code between each other: a
function that two notebooks need lives in this package, once.
"""

from aie.setup import setup_notebook

__all__ = ["setup_notebook"]

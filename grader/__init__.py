"""The course's tooling: releasing labs, running notebooks, and grading them.

Layered like nbgrader itself: `grader.cli` holds the commands, the modules
below it do one job each (the syllabus, releasing, executing, wrong answers).
"""

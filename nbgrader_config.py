"""nbgrader's settings for this course: solutions/ is the source, labs/ the release.

`aie release MODULE` (grader/release.py) runs nbgrader's GenerateAssignment with
these settings; nothing copies notebooks around by hand.
"""

c = get_config()  # noqa: F821 (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "ai-engineering-2026"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
# Authoring leftovers never reach learners.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.bak"]
# Releasing needs no gradebook (the same as `nbgrader generate_assignment --no-db`);
# grading keeps its own.
c.GenerateAssignment.no_database = True
c.SaveCells.enabled = False
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

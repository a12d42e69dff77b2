"""Per-student feedback as HTML: each test's name, points and a useful message, and nothing that can run.

Everything that came from a submission (messages quoting its values, written
answers, error text) is escaped, and a Content-Security-Policy forbids scripts
outright, so nothing a student wrote runs in an instructor's browser. Hidden
tests appear by name only: their source and inputs are never shown
(`grader.autograde.redact` has already removed reference values).
"""

from __future__ import annotations

from html import escape

from grader.autograde import SubmissionResult

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; width: 100%; } td, th { border-bottom: 1px solid #ddd; padding: .4rem; }
.pass { color: #11772b; } .fail { color: #b00020; } pre { white-space: pre-wrap; margin: 0; }
"""


def render_feedback(result: SubmissionResult) -> str:
    rows = []
    for test in result.tests:
        status = "passed" if test.passed else "failed"
        kind = "hidden test" if test.hidden else "test"
        rows.append(
            f'<tr class="{status[:4]}"><td>{escape(test.grade_id)}</td><td>{kind}</td>'
            f"<td>{test.points:g} / {test.max_points:g}</td><td>{status}</td>"
            f"<td><pre>{escape(test.message)}</pre></td></tr>"
        )
    written = "".join(
        f"<h3>{escape(gid)} (graded by hand)</h3><pre>{escape(text)}</pre>" for gid, text in result.written.items()
    )
    problems = "".join(f"<li>{escape(p)}</li>" for p in ([result.error] if result.error else []) + result.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Feedback: {escape(result.assignment)}, {escape(result.student)}</title><style>{STYLE}</style></head>
<body><h1>{escape(result.assignment)}: {result.score:g} / {result.max_score:g} autograded points</h1>
<p>Student: {escape(result.student)}</p>
{f"<h2>Problems</h2><ul>{problems}</ul>" if problems else ""}
<h2>Tests</h2>
<table><tr><th>test</th><th>kind</th><th>points</th><th>result</th><th>message</th></tr>
{"".join(rows)}
</table>
{f"<h2>Written answers</h2>{written}" if written else ""}
</body></html>
"""

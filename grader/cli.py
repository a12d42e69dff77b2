"""The `aie` command: release labs, strip and benchmark notebooks (grading commands build on these)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from grader.course import ROOT, all_notebooks, load_syllabus


def _module_ids(requested: Sequence[str]) -> list[str]:
    syllabus = load_syllabus()
    return [syllabus.module(m).id for m in requested] or [m.id for m in syllabus.modules]


def cmd_release(args: argparse.Namespace) -> int:
    from grader.release import release

    for module_id in _module_ids(args.modules):
        folder = release(module_id)
        print(f"released {module_id} -> {folder.relative_to(ROOT)}")
    return 0


def cmd_strip(args: argparse.Namespace) -> int:
    from grader.strip import strip_notebook

    paths = [Path(p) for p in args.paths] or all_notebooks()
    for path in paths:
        if strip_notebook(path):
            print(f"stripped {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from grader.execute import report_json, report_table, run_notebook

    syllabus = load_syllabus()
    modules = [syllabus.module(m) for m in _module_ids(args.modules)]
    reports = []
    for module in modules:
        for path in (module.lecture, module.solution):
            reports.append(run_notebook(path))
            print(f"ran {path.relative_to(ROOT)} in {reports[-1].seconds:.1f} s", file=sys.stderr)
    print(report_json(reports, ROOT) if args.json else report_table(reports, ROOT))
    return 1 if any(r.errors for r in reports) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aie", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="write labs/ from solutions/ with nbgrader")
    release.add_argument("modules", nargs="*", help="module ids from course/syllabus.yml (default: all)")
    release.set_defaults(run=cmd_release)

    strip = commands.add_parser("strip", help="remove outputs and execution counts from notebooks")
    strip.add_argument("paths", nargs="*", help="notebooks (default: every notebook of the course)")
    strip.set_defaults(run=cmd_strip)

    bench = commands.add_parser("bench", help="run lecture and solution notebooks; print time and peak memory")
    bench.add_argument("modules", nargs="*", help="module ids (default: all)")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    bench.set_defaults(run=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

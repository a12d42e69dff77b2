"""The `aie` command: release labs, strip and benchmark notebooks (grading commands build on these)."""

from __future__ import annotations

import argparse
import os
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


def cmd_bench_grading(args: argparse.Namespace) -> int:
    from grader.benchmark import compare_with_nbgrader

    comparison = compare_with_nbgrader(load_syllabus().module(args.module), args.submissions, args.workers,
                                       preload=not args.no_preload)
    print(comparison.table())
    return 0 if comparison.identical_scores else 1


def cmd_grade(args: argparse.Namespace) -> int:
    from grader.batch import BatchSettings, discover, grade_batch, summary_table
    from grader.sandbox import SandboxLimits, SandboxUnavailable

    limits = SandboxLimits(cell_seconds=args.cell_timeout, submission_seconds=args.submission_timeout,
                           memory_bytes=args.memory_mib * 1024**2)
    settings = BatchSettings(
        assignment=args.assignment, submitted=Path(args.submitted).resolve(),
        autograded=Path(args.autograded).resolve(), feedback=Path(args.feedback).resolve(),
        db_url=args.db, workers=args.workers, sandbox=not args.no_sandbox, limits=limits, force=args.force,
        preload=not args.no_preload,
    )
    progress = None
    try:
        from tqdm import tqdm

        progress = tqdm(desc=f"grading {args.assignment}", unit="submission", file=sys.stderr,
                        total=len(discover(settings)[0]))
    except ImportError:  # tqdm is a dependency; a bare install still grades, without a bar
        pass

    def show(result, skipped: bool) -> None:  # noqa: ANN001
        if progress is not None:
            progress.update(1)
            progress.set_postfix_str(f"{result.student}: {result.score:g}{' (kept)' if skipped else ''}")

    try:
        results, skipped = grade_batch(settings, on_result=show)
    except SandboxUnavailable as exc:
        print(f"aie grade: {exc}", file=sys.stderr)
        return 2
    finally:
        if progress is not None:
            progress.close()
    print(summary_table(results))
    for reason in skipped:
        print(f"skipped {reason}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from grader.export import export_grades, load_results, write_item_analysis

    count = export_grades(args.db, Path(args.csv))
    print(f"wrote {count} students to {args.csv}")
    if args.assignment:
        results = load_results(Path(args.autograded), args.assignment)
        items = Path(args.items or f"{args.assignment}-items.csv")
        write_item_analysis(results, items, items.with_suffix(".png"))
        print(f"wrote item analysis of {len(results)} submissions to {items} and {items.with_suffix('.png')}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from grader.selfcheck import check_notebook, format_report, remember

    report = check_notebook(Path(args.notebook))
    remember(report)
    print(format_report(report))
    return 0 if report.passed else 1


def cmd_progress(args: argparse.Namespace) -> int:
    from grader.selfcheck import progress_table

    print(progress_table())
    return 0


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

    grade = commands.add_parser("grade", help="autograde every submission of an assignment, sandboxed and in parallel")
    grade.add_argument("assignment", help="module id, e.g. 01-linear-algebra")
    grade.add_argument("--submitted", default=str(ROOT / "submitted"),
                       help="folder of <student>/<assignment>/lab.ipynb submissions (default: %(default)s)")
    grade.add_argument("--autograded", default=str(ROOT / "autograded"),
                       help="where per-student results are kept, for resuming (default: %(default)s)")
    grade.add_argument("--feedback", default=str(ROOT / "feedback"), help="where HTML feedback goes")
    grade.add_argument("--db", default=f"sqlite:///{ROOT / 'gradebook.db'}",
                       help="the gradebook, as an SQLAlchemy URL (default: %(default)s)")
    grade.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                       help="parallel jobs, each kernel given one BLAS thread (default: the number of cores)")
    grade.add_argument("--cell-timeout", type=int, default=60, help="seconds per cell before it is interrupted")
    grade.add_argument("--submission-timeout", type=int, default=300,
                       help="seconds per submission before its sandbox is ended")
    grade.add_argument("--memory-mib", type=int, default=4096, help="address-space limit of a student kernel")
    grade.add_argument("--force", action="store_true", help="regrade submissions that already have a result")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run kernels without bubblewrap (only for notebooks you trust)")
    grade.add_argument("--no-preload", action="store_true",
                       help="start every kernel from scratch instead of forking it from a sandboxed server that "
                            "has imported the lab's modules once (the default, when grading as root)")
    grade.set_defaults(run=cmd_grade)

    bench_grading = commands.add_parser(
        "bench-grading", help="time plain `nbgrader autograde` against `aie grade` on the same submissions")
    bench_grading.add_argument("module", nargs="?", default="01-linear-algebra",
                               help="module id (default: %(default)s)")
    bench_grading.add_argument("--submissions", type=int, default=24, help="how many (default: %(default)s)")
    bench_grading.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="parallel jobs of aie grade")
    bench_grading.add_argument("--no-preload", action="store_true",
                               help="time aie grade with a bubblewrap per kernel instead of forked kernels")
    bench_grading.set_defaults(run=cmd_bench_grading)

    export = commands.add_parser("export", help="grades as CSV for an LMS, and item analysis")
    export.add_argument("--db", default=f"sqlite:///{ROOT / 'gradebook.db'}", help="the gradebook URL")
    export.add_argument("--csv", default="grades.csv", help="where to write the grades (default: %(default)s)")
    export.add_argument("--assignment", help="also write the item analysis of this assignment")
    export.add_argument("--autograded", default=str(ROOT / "autograded"), help="where `aie grade` kept results")
    export.add_argument("--items", help="item analysis CSV path (default: <assignment>-items.csv; a PNG beside it)")
    export.set_defaults(run=cmd_export)

    check = commands.add_parser("check", help="run your lab notebook and see which exercises pass")
    check.add_argument("notebook", help="e.g. labs/01-linear-algebra/lab.ipynb")
    check.set_defaults(run=cmd_check)

    progress = commands.add_parser("progress", help="your progress over every module of the syllabus")
    progress.set_defaults(run=cmd_progress)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

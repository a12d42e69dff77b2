"""``python -m aie.rag build-index`` rebuilds the corpus and its embeddings; ``check`` verifies them."""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aie.rag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build-index", help="harvest the docstrings again, then embed every passage (minutes)")
    build.add_argument("--questions-only", action="store_true",
                       help="re-embed only the golden questions (seconds), after editing golden.yaml")
    sub.add_parser("check", help="check that the stored corpus and embeddings match the installed libraries")
    args = parser.parse_args(argv)

    from aie.rag.corpus import CORPUS_PATH, harvest, load_documents, save_documents

    if args.command == "build-index":
        from aie.rag.index import EMBEDDINGS_PATH, QUESTION_VECTORS_PATH, build_embeddings, build_question_vectors

        if args.questions_only:
            print(f"{len(build_question_vectors())} golden questions embedded -> {QUESTION_VECTORS_PATH}")
            return 0

        start = time.perf_counter()
        documents = harvest()
        save_documents(documents)
        load_documents.cache_clear()
        artifact = build_embeddings()
        build_question_vectors()
        print(f"{len(documents)} documents -> {CORPUS_PATH}")
        print(f"{artifact.vectors.shape[0]} passages embedded -> {EMBEDDINGS_PATH} "
              f"({time.perf_counter() - start:.0f} s)")
        return 0

    from aie.rag.index import load_embeddings, load_question_vectors

    load_question_vectors()
    stale = tuple(harvest()) != load_documents()
    load_embeddings()  # raises StaleArtifactError with the rebuild command
    if stale:
        print("the installed libraries give other documents than the stored corpus: python -m aie.rag build-index")
        return 1
    print("corpus and embeddings are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The module-09 corpus: docstrings of the Python standard library, NumPy and scikit-learn.

Real text that nobody on the course wrote and that every learner has offline. It is
harvested with :mod:`inspect` from a fixed list of modules, so it is deterministic given
the pinned library versions; the harvest is stored in ``data/corpus.jsonl.gz`` so a
notebook loads it in milliseconds instead of importing every scikit-learn submodule.

A *document* is one public function or class and its docstring. A *passage* is a chunk of
a document's words (the unit that gets embedded and indexed); every passage starts with
its document's id, so a chunk cut from the middle of a docstring still says what it is about.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import inspect
import json
import re
import sys
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
CORPUS_PATH = DATA_DIR / "corpus.jsonl.gz"
GOLDEN_PATH = DATA_DIR / "golden.yaml"

# The modules harvested, in order. A public object exported by two modules is kept once,
# under the first module that lists it. Add modules here and rebuild (`python -m aie.rag build-index`).
HARVESTED_MODULES: dict[str, tuple[str, ...]] = {
    "python": (
        "json", "re", "os", "os.path", "itertools", "functools", "collections", "datetime", "pathlib",
        "statistics", "math", "random", "string", "textwrap", "csv", "heapq", "bisect", "shutil", "subprocess",
        "glob", "hashlib", "base64", "uuid", "time", "logging", "argparse", "typing", "dataclasses", "contextlib",
        "copy", "pickle", "gzip", "zipfile", "tempfile", "urllib.parse", "difflib", "enum", "operator", "sqlite3",
        "threading", "asyncio", "decimal", "fractions", "io", "sys", "struct", "unicodedata", "secrets", "shlex",
        "fnmatch", "pprint", "traceback", "warnings", "weakref", "abc", "inspect", "timeit", "platform",
        "calendar", "queue", "concurrent.futures", "multiprocessing", "socket", "http.client", "email.message",
        "html", "xml.etree.ElementTree", "tarfile", "zlib", "locale", "signal", "select", "array", "cmath",
        "numbers", "codecs", "configparser", "getpass", "graphlib", "reprlib", "types", "importlib",
    ),
    "numpy": ("numpy", "numpy.linalg", "numpy.fft", "numpy.random"),
    "sklearn": (
        "sklearn.linear_model", "sklearn.ensemble", "sklearn.tree", "sklearn.cluster", "sklearn.decomposition",
        "sklearn.metrics", "sklearn.model_selection", "sklearn.preprocessing", "sklearn.pipeline",
        "sklearn.feature_extraction.text", "sklearn.neighbors", "sklearn.svm", "sklearn.impute", "sklearn.compose",
        "sklearn.naive_bayes", "sklearn.manifold", "sklearn.calibration", "sklearn.inspection",
        "sklearn.feature_selection", "sklearn.datasets", "sklearn.utils",
    ),
}
MIN_DOC_CHARS = 30          # shorter docstrings ("Return self.") carry nothing to retrieve
MAX_DOC_WORDS = 400         # the head of a docstring says what the object does; the tail is parameters
CHUNK_WORDS = 120           # about 160 word pieces: inside MiniLM's 256-token window with the title
CHUNK_OVERLAP = 30
MAX_CHUNKS_PER_DOC = 3


@dataclass(frozen=True)
class Document:
    """One public function or class: ``id`` is its dotted name, ``text`` its cleaned docstring."""

    id: str
    library: str
    module: str
    kind: str
    text: str


@dataclass(frozen=True)
class Passage:
    """A chunk of a document, the unit that is embedded and indexed."""

    id: str
    doc_id: str
    library: str
    text: str


def clean_docstring(doc: str) -> str:
    """Keep the prose of a docstring: drop the Examples section and numpydoc underlines, squeeze blank lines."""
    doc = re.split(r"\n\s*Examples?\n\s*-{3,}", doc, maxsplit=1)[0]
    lines = [line.rstrip() for line in doc.splitlines() if not re.fullmatch(r"\s*[-=~]{3,}\s*", line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _public_names(module: object) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:  # without __all__, dir() also lists what the module imported from elsewhere
        names = [n for n in dir(module) if not n.startswith("_")
                 and getattr(getattr(module, n), "__module__", module.__name__) == module.__name__]
    return sorted({str(n) for n in names})


def harvest(modules: dict[str, tuple[str, ...]] | None = None) -> list[Document]:
    """Import each module and collect the docstrings of its public functions and classes.

    Deterministic given the library versions: names are sorted and duplicates resolved by module order.
    """
    documents: list[Document] = []
    for library, module_names in (modules or HARVESTED_MODULES).items():
        seen: set[int] = set()
        for module_name in module_names:
            module = importlib.import_module(module_name)
            for name in _public_names(module):
                try:
                    obj = getattr(module, name)
                except Exception:  # noqa: BLE001 (experimental sklearn names raise ImportError on access)
                    continue
                if inspect.ismodule(obj) or not callable(obj) or id(obj) in seen:
                    continue
                if getattr(obj, "__name__", name) != name:  # an alias (numpy.concat): keep the canonical name
                    continue
                doc = inspect.getdoc(obj)
                if not doc or len(doc) < MIN_DOC_CHARS:
                    continue
                seen.add(id(obj))
                text = " ".join(clean_docstring(doc).split()[:MAX_DOC_WORDS])
                kind = "class" if inspect.isclass(obj) else "function"
                documents.append(Document(f"{module_name}.{name}", library, module_name, kind, text))
    return documents


def library_versions() -> dict[str, str]:
    """The versions the harvest depends on (the standard library's docstrings follow the Python version)."""
    import numpy
    import sklearn

    return {"python": ".".join(map(str, sys.version_info[:3])), "numpy": numpy.__version__,
            "sklearn": sklearn.__version__}


def save_documents(documents: list[Document], path: Path = CORPUS_PATH) -> None:
    """Write documents as gzipped JSON lines, byte-for-byte reproducible (no timestamp in the gzip header)."""
    payload = "".join(json.dumps(asdict(d), ensure_ascii=False, sort_keys=True) + "\n" for d in documents)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(payload.encode("utf-8"))


@cache
def load_documents(path: Path = CORPUS_PATH) -> tuple[Document, ...]:
    """The stored harvest (fast: no library is imported)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return tuple(Document(**json.loads(line)) for line in f)


def chunk_words(text: str, size: int = CHUNK_WORDS, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Split ``text`` into windows of ``size`` words, each starting ``size - overlap`` words after the last.

    The last window ends at the last word; no window is empty; a text of at most ``size`` words is one chunk.
    """
    if not 0 <= overlap < size:
        raise ValueError(f"need 0 <= overlap < size, got overlap={overlap}, size={size}")
    words = text.split()
    if not words:
        return []
    step = size - overlap
    starts = range(0, max(len(words) - overlap, 1), step)
    return [" ".join(words[start:start + size]) for start in starts]


def make_passages(
    documents: tuple[Document, ...] | list[Document],
    size: int = CHUNK_WORDS,
    overlap: int = CHUNK_OVERLAP,
    max_chunks: int = MAX_CHUNKS_PER_DOC,
) -> list[Passage]:
    """Chunk every document; each passage is prefixed with its document id (a cheap form of contextual chunking)."""
    passages = []
    for doc in documents:
        for i, chunk in enumerate(chunk_words(doc.text, size, overlap)[:max_chunks]):
            passages.append(Passage(f"{doc.id}#{i}", doc.id, doc.library, f"{doc.id}: {chunk}"))
    return passages


def load_passages() -> list[Passage]:
    """The passages of the stored corpus, chunked with the module's defaults (the ones the artifact embeds)."""
    return make_passages(load_documents())


def passages_hash(passages: list[Passage]) -> str:
    """SHA-256 of the passage ids and texts: any change to the corpus or the chunking changes it."""
    digest = hashlib.sha256()
    for p in passages:
        digest.update(p.id.encode() + b"\x00" + p.text.encode() + b"\x00")
    return digest.hexdigest()


def load_golden(path: Path = GOLDEN_PATH) -> list[dict]:
    """The golden set: questions written for the course, each with the ids of the documents that answer it."""
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]

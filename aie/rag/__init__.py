"""Module 09: retrieval-augmented generation on a real offline corpus, measured.

* :mod:`aie.rag.corpus`: the docstring corpus (harvested with ``inspect``), chunking, the golden set.
* :mod:`aie.rag.index`: the versioned embeddings artifact (``python -m aie.rag build-index``).
* :mod:`aie.rag.search`: exact dense search, BM25, reciprocal rank fusion, recall@k, MRR, nDCG.
* :mod:`aie.rag.generate`: grounded prompts, citation checks, an offline extractive generator and an
  OpenAI-compatible chat-completions client.

Submodules are imported on demand so that ``import aie.rag`` stays cheap.
"""

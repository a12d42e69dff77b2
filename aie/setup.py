"""One call at the top of every notebook: offline, seeded, and sized for a laptop CPU."""

from __future__ import annotations

import os
import random
import sys

import numpy as np

# Every model in the course ships inside a Python package; nothing may reach for a hub.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def setup_notebook(seed: int = 0, torch_threads: int = 1) -> np.random.Generator:
    """Make a notebook reproducible and offline; return a seeded NumPy generator.

    Import torch *before* calling this in notebooks that use it: torch is seeded
    and given ``torch_threads`` threads only when it is already imported, so a
    notebook that never uses torch does not pay for importing it. One thread is
    the default because on a 2-core laptop that also runs the Jupyter server, one
    torch thread is often faster than two; raise it on a bigger machine.
    """
    os.environ.update(OFFLINE_ENV)
    random.seed(seed)
    np.random.seed(seed)
    import matplotlib

    matplotlib.rcParams.update({"figure.figsize": (6.4, 4.0), "figure.dpi": 90, "axes.grid": True})
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.manual_seed(seed)
        torch.set_num_threads(torch_threads)
    return np.random.default_rng(seed)

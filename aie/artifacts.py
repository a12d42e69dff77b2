"""Save a fitted tabular model as an artifact that says what input it expects.

A pickled pipeline alone is not deployable: the service that loads it must know
which columns to send, of which kind, which category values the model has seen,
and which library versions can unpickle it. An artifact here is a directory:

* ``model.joblib``: the fitted scikit-learn pipeline (preprocessing included, so the
  service cannot apply a different one);
* ``schema.json``: the input contract, one entry per column the model reads,
  built by :func:`infer_schema` from the *training* frame;
* ``metadata.json``: anything else the service needs (decision threshold, metrics,
  training period) plus the versions of Python, scikit-learn, NumPy and pandas.

:func:`validate_input` checks a frame against the schema before it reaches the
model and returns human-readable problems instead of letting a wrong dtype or a
missing column become a silent NaN deep inside the pipeline. Module 04 writes an
artifact; module 12 serves one.

Loading a joblib file runs code from it: load only artifacts you produced.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

__all__ = ["infer_schema", "load_artifact", "save_artifact", "validate_input"]

MODEL_FILE = "model.joblib"
SCHEMA_FILE = "schema.json"
METADATA_FILE = "metadata.json"


def infer_schema(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> dict[str, Any]:
    """The input contract of a model trained on ``frame``: kind, nullability, range or categories per column.

    Numeric columns record the training minimum and maximum (values outside are
    reported, not refused: they are a sign of drift or a unit change). Categorical
    columns record the sorted set of values seen in training.
    """
    columns: dict[str, dict[str, Any]] = {}
    for name in numeric:
        values = pd.to_numeric(frame[name], errors="raise")
        columns[name] = {
            "kind": "numeric",
            "nullable": bool(values.isna().any()),
            "min": float(values.min()),
            "max": float(values.max()),
        }
    for name in categorical:
        values = frame[name]
        columns[name] = {
            "kind": "categorical",
            "nullable": bool(values.isna().any()),
            "categories": sorted(str(v) for v in values.dropna().unique()),
        }
    return {"columns": columns}


def validate_input(frame: pd.DataFrame, schema: dict[str, Any]) -> list[str]:
    """Problems with ``frame`` as input to a model with ``schema``; an empty list means it conforms.

    Reported: missing columns, non-numeric values in numeric columns, nulls in
    columns that had none in training, numeric values outside the training range,
    and category values never seen in training. Extra columns are ignored, since
    the pipeline selects its columns by name.
    """
    problems: list[str] = []
    for name, spec in schema["columns"].items():
        if name not in frame.columns:
            problems.append(f"{name}: missing column")
            continue
        values = frame[name]
        nulls = int(values.isna().sum())
        if nulls and not spec["nullable"]:
            problems.append(f"{name}: {nulls} null value(s), none in training")
        if spec["kind"] == "numeric":
            numbers = pd.to_numeric(values, errors="coerce")
            not_numbers = int((numbers.isna() & values.notna()).sum())
            if not_numbers:
                problems.append(f"{name}: {not_numbers} value(s) that are not numbers")
            outside = int(((numbers < spec["min"]) | (numbers > spec["max"])).sum())
            if outside:
                bounds = f"[{spec['min']:g}, {spec['max']:g}]"
                problems.append(f"{name}: {outside} value(s) outside the training range {bounds}")
        else:
            unseen = sorted({str(v) for v in values.dropna().unique()} - set(spec["categories"]))
            if unseen:
                problems.append(f"{name}: unseen categories {unseen}")
    return problems


def _versions() -> dict[str, str]:
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "numpy": np.__version__, "pandas": pd.__version__}


def save_artifact(model: Any, schema: dict[str, Any], directory: str | Path,
                  metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model``, its ``schema`` and ``metadata`` (plus library versions) to ``directory``; return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / MODEL_FILE)
    (directory / SCHEMA_FILE).write_text(json.dumps(schema, indent=2), encoding="utf-8")
    full_metadata = {**(metadata or {}), "versions": _versions()}
    (directory / METADATA_FILE).write_text(json.dumps(full_metadata, indent=2, default=str), encoding="utf-8")
    return directory


def load_artifact(directory: str | Path, *, strict_versions: bool = True) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Load ``(model, schema, metadata)`` from ``directory``.

    With ``strict_versions`` a scikit-learn version different from the one that
    saved the model raises ``RuntimeError``: unpickling across versions can fail
    or, worse, load and predict differently.
    """
    directory = Path(directory)
    schema = json.loads((directory / SCHEMA_FILE).read_text(encoding="utf-8"))
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    saved, running = metadata.get("versions", {}).get("scikit-learn"), _versions()["scikit-learn"]
    if strict_versions and saved != running:
        raise RuntimeError(f"model saved with scikit-learn {saved}, running {running}: retrain or pin the version")
    return joblib.load(directory / MODEL_FILE), schema, metadata

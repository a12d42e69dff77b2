"""A saved artifact round-trips, carries its schema and versions, and the schema catches bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from aie.artifacts import infer_schema, load_artifact, save_artifact, validate_input


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"fee": [9.99, 19.99, np.nan, 34.99], "plan": ["basic", "standard", "basic", "premium"],
                         "label": [0, 1, 0, 1]})


def test_schema_records_kinds_ranges_categories_and_nulls(frame: pd.DataFrame) -> None:
    schema = infer_schema(frame, numeric=["fee"], categorical=["plan"])
    assert schema["columns"]["fee"] == {"kind": "numeric", "nullable": True, "min": 9.99, "max": 34.99}
    assert schema["columns"]["plan"] == {"kind": "categorical", "nullable": False,
                                         "categories": ["basic", "premium", "standard"]}
    json.dumps(schema)  # JSON-serialisable as it is


def test_validate_input_reports_each_kind_of_problem(frame: pd.DataFrame) -> None:
    schema = infer_schema(frame, numeric=["fee"], categorical=["plan"])
    assert validate_input(frame, schema) == []
    assert validate_input(frame.drop(columns="plan"), schema) == ["plan: missing column"]
    bad = pd.DataFrame({"fee": ["12", "abc", 99.0], "plan": ["basic", None, "gold"]})
    problems = " | ".join(validate_input(bad, schema))
    assert "1 value(s) that are not numbers" in problems
    assert "outside the training range" in problems
    assert "plan: 1 null value(s)" in problems
    assert "unseen categories ['gold']" in problems


def test_artifact_round_trip_predicts_the_same(frame: pd.DataFrame, tmp_path: Path) -> None:
    model = make_pipeline(ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])]),
                          LogisticRegression())
    model.fit(frame, frame["label"])
    schema = infer_schema(frame, numeric=["fee"], categorical=["plan"])
    directory = save_artifact(model, schema, tmp_path / "churn-model", {"threshold": 0.3})
    assert sorted(p.name for p in directory.iterdir()) == ["metadata.json", "model.joblib", "schema.json"]
    loaded, loaded_schema, metadata = load_artifact(directory)
    assert loaded_schema == schema
    assert metadata["threshold"] == 0.3 and "scikit-learn" in metadata["versions"]
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame))


def test_version_mismatch_is_refused_unless_asked(frame: pd.DataFrame, tmp_path: Path) -> None:
    save_artifact(LogisticRegression(), infer_schema(frame, ["fee"], []), tmp_path)
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    metadata["versions"]["scikit-learn"] = "0.0.1"
    (tmp_path / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(RuntimeError, match="scikit-learn 0.0.1"):
        load_artifact(tmp_path)
    load_artifact(tmp_path, strict_versions=False)

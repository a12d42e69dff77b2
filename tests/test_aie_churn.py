"""The churn generator is deterministic and really plants the traps that module 04 teaches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from aie.churn import (
    CATEGORICAL_FEATURES,
    DATE_COLUMN,
    ID_COLUMN,
    LEAKY_COLUMN,
    NUMERIC_FEATURES,
    OUTAGE_END,
    OUTAGE_START,
    PRICE_RISE_DATE,
    RARE_REGION,
    TARGET,
    make_churn_data,
)


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return make_churn_data(6000, seed=0)


def test_same_seed_same_table_and_another_seed_another(churn: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(churn, make_churn_data(6000, seed=0))
    assert not churn[TARGET].equals(make_churn_data(6000, seed=1)[TARGET])


def test_columns_kinds_and_ids(churn: pd.DataFrame) -> None:
    expected = {ID_COLUMN, DATE_COLUMN, "postcode", LEAKY_COLUMN, TARGET, *NUMERIC_FEATURES, *CATEGORICAL_FEATURES}
    assert set(churn.columns) == expected
    assert churn[ID_COLUMN].is_unique
    assert pd.api.types.is_datetime64_any_dtype(churn[DATE_COLUMN])
    assert set(churn[TARGET].unique()) == {0, 1}
    assert all(pd.api.types.is_float_dtype(churn[c]) for c in NUMERIC_FEATURES)


def test_rows_are_not_sorted_by_time_and_dates_tie(churn: pd.DataFrame) -> None:
    assert not churn[DATE_COLUMN].is_monotonic_increasing
    assert churn[DATE_COLUMN].duplicated().mean() > 0.5
    assert churn[DATE_COLUMN].min() >= pd.Timestamp("2023-01-01")
    assert churn[DATE_COLUMN].max() <= pd.Timestamp("2024-12-31")


def test_classes_are_imbalanced(churn: pd.DataFrame) -> None:
    assert 0.08 < churn[TARGET].mean() < 0.18


def test_churn_drifts_upwards_over_time_and_after_the_price_rise(churn: pd.DataFrame) -> None:
    by_year = churn.groupby(churn[DATE_COLUMN].dt.year)[TARGET].mean()
    assert by_year[2024] > 1.4 * by_year[2023]
    basic = churn[churn["plan"] == "basic"]
    before = basic[(basic[DATE_COLUMN] < PRICE_RISE_DATE) & (basic[DATE_COLUMN] >= "2024-01-01")][TARGET].mean()
    after = basic[basic[DATE_COLUMN] >= PRICE_RISE_DATE][TARGET].mean()
    assert after > 1.3 * before
    assert (churn[churn[DATE_COLUMN] < "2024-01-01"]["channel"] == "social").sum() == 0


def test_leaky_column_nearly_gives_the_answer_away(churn: pd.DataFrame) -> None:
    leak_auc = roc_auc_score(churn[TARGET], churn[LEAKY_COLUMN])
    assert leak_auc > 0.85
    for name in NUMERIC_FEATURES:  # no honest column comes close
        values = churn[name].fillna(churn[name].median())
        auc = roc_auc_score(churn[TARGET], values)
        assert max(auc, 1 - auc) < 0.75, name


def test_missing_values_where_documented(churn: pd.DataFrame) -> None:
    assert 0.08 < churn["age"].isna().mean() < 0.2
    outage = churn[DATE_COLUMN].between(OUTAGE_START, OUTAGE_END)
    assert outage.sum() > 0 and churn.loc[outage, "sessions_30d"].isna().all()
    assert churn.loc[~outage, "sessions_30d"].notna().all()
    assert 0.3 < churn["satisfaction"].isna().mean() < 0.7
    answered = churn["satisfaction"].dropna()
    assert answered.isin([1.0, 2.0, 3.0, 4.0, 5.0]).all()
    # Not at random: the silent majority is in the middle of the scale.
    assert (answered == 3).mean() < 0.5
    assert churn[["monthly_fee", "plan", "region", TARGET]].notna().all().all()


def test_rare_segment_is_rare_and_different(churn: pd.DataFrame) -> None:
    remote = churn["region"] == RARE_REGION
    assert 0.01 < remote.mean() < 0.05
    assert churn.loc[remote, TARGET].mean() > 2 * churn.loc[~remote, TARGET].mean()
    # Heavy use predicts loyalty everywhere except in the rare segment.
    def usage_auc(rows: pd.Series) -> float:
        part = churn[rows & churn["sessions_30d"].notna()]
        return roc_auc_score(part[TARGET], part["sessions_30d"])

    assert usage_auc(~remote) < 0.4
    assert usage_auc(remote) > 0.5


def test_postcode_has_many_levels_and_no_signal(churn: pd.DataFrame) -> None:
    assert churn["postcode"].nunique() > 400
    half = len(churn) // 2
    train, test = churn.iloc[:half], churn.iloc[half:]
    rate = train.groupby("postcode")[TARGET].mean()
    encoded = test["postcode"].map(rate).fillna(train[TARGET].mean())
    assert abs(roc_auc_score(test[TARGET], encoded) - 0.5) < 0.05


def test_honest_features_carry_signal_and_a_random_split_flatters_a_date_feature(churn: pd.DataFrame) -> None:
    frame = churn.assign(signup_day=(churn[DATE_COLUMN] - churn[DATE_COLUMN].min()).dt.days)
    preprocess = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
         NUMERIC_FEATURES),
        ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES),
    ])
    model = make_pipeline(preprocess, LogisticRegression(max_iter=1000))
    ordered = frame.sort_values(DATE_COLUMN)
    cut = ordered[DATE_COLUMN].iloc[int(0.75 * len(ordered))]
    past, future = ordered[ordered[DATE_COLUMN] < cut], ordered[ordered[DATE_COLUMN] >= cut]
    future_auc = roc_auc_score(future[TARGET], model.fit(past, past[TARGET]).predict_proba(future)[:, 1])
    assert 0.7 < future_auc < 0.85
    assert future[TARGET].mean() > past[TARGET].mean()  # the future churns more than the past


def test_rejects_an_empty_table() -> None:
    with pytest.raises(ValueError):
        make_churn_data(0)
    assert len(make_churn_data(1)) == 1
    assert np.isfinite(make_churn_data(50, seed=3)["monthly_fee"]).all()

"""The ticket generator: reproducible, shaped as documented, and drifting the way its docstring says."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from aie.tickets import CATEGORIES, CATEGORY_MIX, LAUNCH_PRODUCTS, NEW_PRODUCTS, make_tickets

COLUMNS = ["ticket_id", "created_at", "channel", "product", "category", "text"]


def test_same_seed_same_frame_and_other_seed_other_frame() -> None:
    pd.testing.assert_frame_equal(make_tickets(200, seed=3), make_tickets(200, seed=3))
    assert not make_tickets(200, seed=3)["text"].equals(make_tickets(200, seed=4)["text"])
    assert not make_tickets(200, seed=3)["text"].equals(make_tickets(200, seed=3, period="drifted")["text"])


@pytest.mark.parametrize("period", ["launch", "drifted"])
def test_columns_types_and_values(period: str) -> None:
    tickets = make_tickets(300, seed=0, period=period)
    assert list(tickets.columns) == COLUMNS
    assert len(tickets) == 300
    assert tickets["ticket_id"].is_unique
    assert all(re.fullmatch(r"T-\d{6}", t) for t in tickets["ticket_id"])
    assert pd.api.types.is_datetime64_any_dtype(tickets["created_at"])
    assert tickets["created_at"].is_monotonic_increasing
    assert set(tickets["category"]) <= set(CATEGORIES)
    assert set(tickets["channel"]) <= {"email", "chat", "web"}
    assert tickets["text"].str.len().min() > 0


def test_empty_frame_keeps_the_columns() -> None:
    empty = make_tickets(0, seed=0)
    assert list(empty.columns) == COLUMNS and len(empty) == 0


def test_launch_has_only_launch_products_and_drifted_brings_new_ones() -> None:
    launch = make_tickets(2000, seed=1)
    drifted = make_tickets(2000, seed=1, period="drifted")
    assert set(launch["product"]) == set(LAUNCH_PRODUCTS)
    assert set(NEW_PRODUCTS) <= set(drifted["product"])
    assert drifted["product"].isin(NEW_PRODUCTS).mean() > 0.35
    assert not launch["text"].str.contains("|".join(NEW_PRODUCTS), case=False).any()


@pytest.mark.parametrize("period", ["launch", "drifted"])
def test_category_mix_follows_the_documented_shares(period: str) -> None:
    tickets = make_tickets(4000, seed=2, period=period, label_noise=0.0)
    shares = tickets["category"].value_counts(normalize=True)
    for category, expected in zip(CATEGORIES, CATEGORY_MIX[period], strict=True):
        assert abs(shares.get(category, 0.0) - expected) < 0.03, category
    assert abs(sum(CATEGORY_MIX[period]) - 1.0) < 1e-9


def test_the_mess_is_there_personal_data_logs_and_vague_tickets() -> None:
    text = make_tickets(2000, seed=5)["text"]
    assert 0.2 < text.str.contains(r"[\w.]+@[\w-]+\.\w+", regex=True).mean() < 0.5
    assert text.str.contains(r"\+?\(?\d{2,3}\)?[ -]\d", regex=True).mean() > 0.05
    assert text.str.contains("Traceback|\\[ERROR\\]", regex=True).mean() > 0.05
    assert text.str.contains("doesnt work|help pls", regex=True).any()


def test_label_noise_changes_only_labels() -> None:
    clean = make_tickets(1000, seed=7, label_noise=0.0)
    noisy = make_tickets(1000, seed=7, label_noise=0.5)
    assert (clean["category"] != noisy["category"]).mean() > 0.3
    assert (clean["product"] == noisy["product"]).all()


@pytest.mark.parametrize(("kwargs", "message"), [({"period": "later"}, "period"), ({"n": -1}, "n must"),
                                                 ({"label_noise": 1.5}, "label_noise")])
def test_bad_arguments_raise(kwargs: dict, message: str) -> None:
    arguments = {"n": 10, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=message):
        make_tickets(**arguments)

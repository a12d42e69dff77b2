"""A generated customer-churn table with the traps a real one has, for module 04 (classical ML).

The business: a subscription service. Each row is one customer, described by what
the company knew **30 days after signup**, when it decides whether to offer a
retention discount. The label ``churned`` says whether the customer cancelled in
the 90 days after that. Every outcome window has closed by the extraction date,
so every label is known.

No offline dataset of this kind ships with scikit-learn, so the table is
generated from a fixed seed by :func:`make_churn_data`. The generator plants the
traps that make real churn data hard, on purpose and documented here so that
tests can prove they are there:

* **A leaky column.** ``retention_offer`` is 1 when the retention team made the
  customer an offer. The team makes offers to customers who call to cancel, so
  the field is filled in *after* the outcome: 80% of churners have it, 3% of the
  others. A model that uses it scores brilliantly offline and is useless in
  production, where the field is always 0 at prediction time.
* **A time order with drift.** Signups span 2023 and 2024 and grow over time. The
  base churn rate rises over the two years; a price rise on the basic plan on
  2024-07-01 adds churn to that plan; the ``social`` channel only starts in 2024
  and brings customers who churn more; short promotion campaigns bring cohorts who
  churn when the discount ends (nothing but the signup date reveals them). Rows
  are stored in random order, as a database extract would return them, so a
  random split silently mixes the future into training.
* **Class imbalance.** About one customer in nine churns, fewer early on.
* **Missing values.** ``age`` is missing for ~12% of customers (more in the social
  channel); ``sessions_30d`` is missing for everyone who signed up during a
  two-week tracking outage in March 2024; ``satisfaction`` (a 1-5 survey) is
  missing for about half, and not at random: unhappy and delighted customers
  answer more often.
* **A rare segment.** ``region == "remote"`` (about 2.5% of customers) has poor
  service coverage: it churns far more and, there, heavy use predicts churn
  instead of loyalty, so a model fitted on everyone serves it badly.
* **A high-cardinality identifier-like column.** ``postcode`` has hundreds of
  values and no real signal: target-encoding it on the whole table (instead of
  inside the cross-validation folds) invents a strong feature out of noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORICAL_FEATURES",
    "DATE_COLUMN",
    "ID_COLUMN",
    "LEAKY_COLUMN",
    "NUMERIC_FEATURES",
    "OUTAGE_START",
    "OUTAGE_END",
    "PRICE_RISE_DATE",
    "RARE_REGION",
    "TARGET",
    "make_churn_data",
]

TARGET = "churned"
DATE_COLUMN = "signup_date"
ID_COLUMN = "customer_id"
LEAKY_COLUMN = "retention_offer"
RARE_REGION = "remote"
# Features the company really knows 30 days after signup (the leaky column is not one of them).
NUMERIC_FEATURES = ["monthly_fee", "age", "sessions_30d", "support_tickets_30d", "payment_failures", "satisfaction"]
CATEGORICAL_FEATURES = ["plan", "contract", "channel", "region"]

FIRST_SIGNUP = pd.Timestamp("2023-01-01")
SIGNUP_DAYS = 731  # 2023-01-01 to 2024-12-31 inclusive
PRICE_RISE_DATE = pd.Timestamp("2024-07-01")
SOCIAL_LAUNCH_DATE = pd.Timestamp("2024-01-01")
OUTAGE_START = pd.Timestamp("2024-03-10")
OUTAGE_END = pd.Timestamp("2024-03-23")  # inclusive
N_POSTCODES = 600
# Promotion campaigns: (first day, length in days). Their cohorts churn when the discount ends.
CAMPAIGNS = [(40, 7), (150, 10), (260, 7), (330, 10), (420, 7), (505, 10), (580, 7), (650, 10), (700, 7)]


def _signup_days(rng: np.random.Generator, n: int) -> np.ndarray:
    """Days since 2023-01-01, with signups growing linearly (density proportional to 1 + t)."""
    u = rng.random(n)
    fraction = np.sqrt(1.0 + 3.0 * u) - 1.0  # inverse CDF of the density (1 + x) / 1.5 on [0, 1]
    return np.minimum((fraction * SIGNUP_DAYS).astype(int), SIGNUP_DAYS - 1)


def make_churn_data(n_customers: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Generate the churn table: one row per customer, in random order.

    Columns: ``customer_id`` (str), ``signup_date`` (datetime64, day resolution, many
    ties), ``plan``, ``contract``, ``channel``, ``region``, ``postcode`` (str
    categories), ``monthly_fee``, ``age``, ``sessions_30d``, ``support_tickets_30d``,
    ``payment_failures``, ``satisfaction`` (float, some with NaN), ``retention_offer``
    (int 0/1, **leaky**) and ``churned`` (int 0/1, the label). See the module
    docstring for the traps. The same ``(n_customers, seed)`` always gives the same
    table; a table of ``n`` rows is not a prefix of a bigger one.
    """
    if n_customers < 1:
        raise ValueError(f"n_customers must be positive, got {n_customers}")
    rng = np.random.default_rng(seed)
    n = n_customers
    day = _signup_days(rng, n)
    signup = FIRST_SIGNUP + pd.to_timedelta(day, unit="D")
    t = day / (SIGNUP_DAYS - 1)  # 0 at the first signup day, 1 at the last

    plan = rng.choice(["basic", "standard", "premium"], size=n, p=[0.5, 0.35, 0.15])
    annual_probability = np.select([plan == "basic", plan == "standard"], [0.2, 0.3], 0.5)
    contract = np.where(rng.random(n) < annual_probability, "annual", "monthly")
    base_fee = np.select([plan == "basic", plan == "standard"], [9.99, 19.99], 34.99)
    after_price_rise = signup >= PRICE_RISE_DATE
    base_fee = np.where((plan == "basic") & after_price_rise, 13.99, base_fee)
    discount = np.where(contract == "annual", 0.85, 1.0)
    monthly_fee = np.round(base_fee * discount * rng.choice([1.0, 1.0, 1.0, 0.9], size=n), 2)

    channel = rng.choice(["organic", "paid_search", "referral"], size=n, p=[0.45, 0.35, 0.20])
    social_open = signup >= SOCIAL_LAUNCH_DATE
    channel = np.where(social_open & (rng.random(n) < 0.35), "social", channel)
    region = rng.choice(["north", "south", "east", "west", RARE_REGION], size=n, p=[0.3, 0.25, 0.22, 0.205, 0.025])
    postcode = np.array([f"P{c:04d}" for c in rng.integers(0, N_POSTCODES, size=n)])

    engagement = rng.normal(size=n)
    age = np.clip(np.round(rng.normal(40.0, 12.0, size=n)), 18, 80)
    sessions = rng.poisson(np.exp(2.3 + 0.55 * engagement)).astype(float)
    remote = region == RARE_REGION
    tickets = rng.poisson(0.35 + 0.5 * (engagement < -1.0) + 1.0 * remote).astype(float)
    failures = rng.poisson(np.where(plan == "basic", 0.25, 0.1)).astype(float)
    happiness = rng.normal(size=n) - 0.3 * tickets
    satisfaction = np.clip(np.round(3.2 + 1.1 * happiness), 1, 5)

    in_campaign = np.zeros(n, dtype=bool)
    for first, length in CAMPAIGNS:
        in_campaign |= (day >= first) & (day < first + length)

    # Each signup week brings its own mix of customers (seasonality, ad spend, word of mouth).
    week_effect = rng.normal(0.0, 0.6, size=SIGNUP_DAYS // 7 + 1)[day // 7]
    logit = (
        -4.5
        + 0.8 * t  # the market gets harder: base churn rises over the two years
        + 0.9 * (contract == "monthly")
        - 1.2 * engagement * np.where(remote, -1.0, 1.0)  # in the rare segment, heavy users churn
        + 0.9 * (tickets >= 2)  # a second ticket in the first month is the one that hurts
        + 0.5 * failures
        - 0.35 * (satisfaction - 3.0)
        + 0.8 * (age < 25) + 0.5 * (age > 65)  # the youngest and oldest customers churn more
        + 0.9 * ((plan == "basic") & after_price_rise)
        + 0.6 * (channel == "social")
        + 1.4 * remote
        + 1.5 * in_campaign
        + week_effect
    )
    churned = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)

    # The retention team acts when a customer calls to cancel: after the outcome is decided.
    retention_offer = np.where(churned == 1, rng.random(n) < 0.80, rng.random(n) < 0.03).astype(int)

    age_missing = rng.random(n) < np.where(channel == "social", 0.3, 0.08)
    age = np.where(age_missing, np.nan, age)
    outage = (signup >= OUTAGE_START) & (signup <= OUTAGE_END)
    sessions = np.where(outage, np.nan, sessions)
    answers_survey = rng.random(n) < np.select([satisfaction <= 2, satisfaction >= 5], [0.75, 0.65], 0.4)
    satisfaction = np.where(answers_survey, satisfaction, np.nan)

    frame = pd.DataFrame(
        {
            ID_COLUMN: [f"C{i:06d}" for i in rng.permutation(n)],
            DATE_COLUMN: signup,
            "plan": plan,
            "contract": contract,
            "channel": channel,
            "region": region,
            "postcode": postcode,
            "monthly_fee": monthly_fee,
            "age": age,
            "sessions_30d": sessions,
            "support_tickets_30d": tickets,
            "payment_failures": failures,
            "satisfaction": satisfaction,
            LEAKY_COLUMN: retention_offer,
            TARGET: churned,
        }
    )
    # A database extract comes back in no particular order: shuffle so nothing is sorted by time.
    return frame.iloc[rng.permutation(n)].reset_index(drop=True)

"""A seeded generator of customer-support tickets, for ticket routing.

The tickets look like what a support inbox receives, not like a benchmark:
typos, shouting, one-line "doesnt work" messages, pasted log lines and stack
traces, product names, and personal data (email addresses, phone numbers)
inside the text. Categories are imbalanced the way real queues are: many
how-to questions, few cancellations.

Two periods tell the story of a model that met production:

* ``"launch"``: the four products that existed when the model was trained.
* ``"drifted"``: weeks later. Two new products (Nimbus Sync, Pulse Assistant)
  make up almost half of the traffic, with vocabulary the model never saw, and
  the category mix has shifted towards bug reports and cancellations.

>>> tickets = make_tickets(500, seed=0)                       # the training distribution
>>> later = make_tickets(500, seed=1, period="drifted")       # the production stream weeks later
>>> list(tickets.columns)
['ticket_id', 'created_at', 'channel', 'product', 'category', 'text']

The same ``(n, seed, period)`` always gives the same frame.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORIES",
    "CATEGORY_MIX",
    "LAUNCH_PRODUCTS",
    "NEW_PRODUCTS",
    "PERIODS",
    "Period",
    "make_tickets",
]

Period = Literal["launch", "drifted"]
PERIODS: tuple[str, ...] = ("launch", "drifted")

CATEGORIES: tuple[str, ...] = (
    "how_to",
    "bug_report",
    "billing",
    "account_access",
    "feature_request",
    "cancellation",
)

# Share of each category per period (same order as CATEGORIES); each row sums to 1.
CATEGORY_MIX: dict[str, tuple[float, ...]] = {
    "launch": (0.34, 0.22, 0.20, 0.14, 0.07, 0.03),
    "drifted": (0.24, 0.36, 0.13, 0.10, 0.08, 0.09),
}

LAUNCH_PRODUCTS: tuple[str, ...] = ("Ledger", "Atlas CRM", "Beacon Mail", "Harbor Drive")
NEW_PRODUCTS: tuple[str, ...] = ("Nimbus Sync", "Pulse Assistant")

_PRODUCT_MIX: dict[str, dict[str, float]] = {
    "launch": {"Ledger": 0.35, "Atlas CRM": 0.30, "Beacon Mail": 0.20, "Harbor Drive": 0.15},
    "drifted": {
        "Ledger": 0.20,
        "Atlas CRM": 0.17,
        "Beacon Mail": 0.10,
        "Harbor Drive": 0.08,
        "Nimbus Sync": 0.25,
        "Pulse Assistant": 0.20,
    },
}

_START = {"launch": pd.Timestamp("2026-01-05"), "drifted": pd.Timestamp("2026-03-02")}
_ID_OFFSET = {"launch": 100_000, "drifted": 500_000}

# What each product's users talk about: the words a ticket borrows besides the category's own.
_FEATURES: dict[str, tuple[str, ...]] = {
    "Ledger": ("invoice export", "tax report", "expense import", "bank feed", "VAT settings"),
    "Atlas CRM": ("contact list", "deal pipeline", "lead import", "sales dashboard", "custom fields"),
    "Beacon Mail": ("campaign editor", "newsletter", "inbox rules", "mailing list", "email templates"),
    "Harbor Drive": ("shared folder", "file upload", "version history", "download link", "storage quota"),
    "Nimbus Sync": ("sync conflict", "offline mode", "device pairing", "sync queue", "background sync"),
    "Pulse Assistant": ("ai summary", "prompt library", "assistant answer", "meeting notes", "smart reply"),
}

_ERRORS: dict[str, tuple[str, ...]] = {
    "Ledger": ("ExportError: invoice 4411 has no currency", "HTTP 500 on /api/v2/reports"),
    "Atlas CRM": ("KeyError: 'deal_stage'", "HTTP 502 Bad Gateway from crm-gateway"),
    "Beacon Mail": ("SMTPDataError: 554 message rejected", "TimeoutError: render_template took 31s"),
    "Harbor Drive": ("UploadError: chunk 17 checksum mismatch", "HTTP 413 Payload Too Large"),
    "Nimbus Sync": ("SyncConflictError: revision 88 diverged from 87", "DeviceNotPairedError: token expired"),
    "Pulse Assistant": ("RateLimitError: 429 too many requests", "ContextLengthError: prompt too long"),
}

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "how_to": (
        "how do i set up the {feature} in {product}?",
        "Is there a way to change the {feature} in {product}? cant find it in the settings",
        "quick question: where is the {feature} option in {product}",
        "Can you explain how the {feature} works in {product}. The docs are not clear",
        "what is the best way to use {feature} with {product} for a team of 12",
        "how can I move my {feature} from the old account to {product}",
    ),
    "bug_report": (
        "{product} crashes when I open the {feature}. error: {error}",
        "the {feature} in {product} is broken since this morning, getting {error}",
        "{product} {feature} not working!!! {error}",
        "Bug: {feature} shows wrong data in {product} after the update",
        "the {feature} page in {product} keeps loading forever and then fails with {error}",
        "{feature} is broken in {product}, nothing happens when i click save",
    ),
    "billing": (
        "I was charged twice for {product} this month, invoice {invoice}",
        "why did my {product} bill go up to ${amount}? please refund the difference",
        "need a copy of invoice {invoice} for {product}, our accounting needs it",
        "the card payment for {product} failed but money left my account (${amount})",
        "please update the billing address on our {product} subscription",
        "wrong amount on invoice {invoice}, we are on the {product} basic plan not pro",
    ),
    "account_access": (
        "I cant log in to {product}, password reset email never arrives",
        "locked out of my {product} account after 2FA phone change",
        "my {product} login says account disabled, what happened",
        "cannot sign in to {product}, it keeps asking for the verification code",
        "please reset my password for {product}, my username is the email below",
        "lost access to admin account in {product}, the previous admin left the company",
    ),
    "feature_request": (
        "would be great if {product} could export the {feature} to excel",
        "feature request: dark mode for the {feature} in {product}",
        "please add an API for the {feature} in {product}",
        "it would help us a lot if {product} supported bulk edit in the {feature}",
        "suggestion: let us schedule the {feature} in {product}",
    ),
    "cancellation": (
        "please cancel my {product} subscription at the end of this month",
        "we want to close our {product} account and delete all data",
        "how do I cancel {product}? we moved to another tool",
        "cancel {product} plan immediately, and no more charges please",
        "we are not renewing {product}, please stop the auto renewal",
    ),
}

# How people write about the new products: their own words, mostly unlike the launch templates,
# which is what makes a model trained at launch unsure (and often wrong) about them.
_NEW_PRODUCT_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "Nimbus Sync": {
        "how_to": ("can {product} keep my laptop and tablet in step while offline?",
                   "what happens to edits made on two devices at once with {product}"),
        "bug_report": ("my phone and laptop show different versions of the same notes since yesterday, {error}",
                       "{product} duplicated every file in the {feature}, now I have 3 copies of everything",
                       "edits from my tablet vanish after a few minutes. {error}"),
        "billing": ("{product} counts 7 devices on my plan but I only own 2, charged for all of them",
                    "does the {product} add-on renew separately from the main plan? saw two charges"),
        "account_access": ("{product} logged me out on all devices and the pairing code is rejected",),
        "feature_request": ("let {product} pick which folders stay on which device",),
        "cancellation": ("remove {product} from our plan, the syncing causes more trouble than it solves",),
    },
    "Pulse Assistant": {
        "how_to": ("how many credits does one {feature} use in {product}?",
                   "can {product} write the {feature} in german instead of english"),
        "bug_report": ("{product} made up a refund policy that does not exist and told it to a customer",
                       "the {feature} from {product} summarised the wrong meeting. {error}",
                       "{product} answers in the middle of a sentence and stops, {error}"),
        "billing": ("we ran out of {product} credits on day 3, why are credits so expensive",
                    "who approved the {product} seats? 40 seats appeared on our bill"),
        "account_access": ("{product} says my workspace has no assistant licence although admin gave me one",),
        "feature_request": ("could {product} learn our tone of voice from past emails",),
        "cancellation": ("turn off {product} for the whole company and stop billing the seats",),
    },
}

# Messages so short or vague that no model can route them: the fallback queue's regulars.
_VAGUE = (
    "it doesnt work",
    "help pls",
    "{product} problem again",
    "same issue as last week, see previous ticket",
    "urgent!! call me",
    "{product} ???",
)

_GREETINGS = ("", "", "", "Hi team, ", "hello, ", "Hi support. ", "URGENT: ", "Good morning, ")
_FIRST_NAMES = ("anna", "ben", "chloe", "dev", "elif", "femi", "giulia", "hiro", "ines", "jonas", "kofi", "lena")
_DOMAINS = ("gmail.com", "outlook.com", "acme-corp.io", "mail.example.org", "fastmail.fm")
_PHONE_FORMATS = (
    "+44 20 7946 {a:04d}",
    "(555) {b:03d}-{a:04d}",
    "+1-415-{b:03d}-{a:04d}",
    "06 {c:02d} {d:02d} {e:02d} 91",
)

_LOG_SNIPPETS = (
    "Traceback (most recent call last):\n  File \"/app/{module}.py\", line {line}, in handle\n{error}",
    "[ERROR] 2026-02-11T09:{minute:02d}:17Z {module} request_id=a9f3{line} {error}",
    "console says: {error} (code {line})",
)


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    """One element of a tuple; much faster than ``rng.choice``, which builds an array every call."""
    return options[int(rng.integers(len(options)))]


def _email(rng: np.random.Generator) -> str:
    name = _pick(_FIRST_NAMES, rng)
    separator = _pick((".", "_", ""), rng)
    surname = _pick(("smith", "kowalski", "nguyen", "garcia", "okafor", "muller"), rng)
    return f"{name}{separator}{surname}{int(rng.integers(1, 99))}@{_pick(_DOMAINS, rng)}"


def _phone(rng: np.random.Generator) -> str:
    template = _pick(_PHONE_FORMATS, rng)
    parts = {"a": int(rng.integers(0, 10_000)), "b": int(rng.integers(200, 1000)), "c": int(rng.integers(10, 100)),
             "d": int(rng.integers(10, 100)), "e": int(rng.integers(10, 100))}
    return template.format(**parts)


def _typo(word: str, rng: np.random.Generator) -> str:
    """Swap two neighbouring letters or drop one: the two commonest typing slips."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = int(rng.integers(1, len(word) - 2))
    if rng.random() < 0.5:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i + 1 :]


def _messy(text: str, rng: np.random.Generator, typo_rate: float) -> str:
    words = [(_typo(w, rng) if rng.random() < typo_rate else w) for w in text.split(" ")]
    text = " ".join(words)
    roll = rng.random()
    if roll < 0.12:
        text = text.lower()
    elif roll < 0.16:
        text = text.upper()
    return text


def _ticket_text(category: str, product: str, rng: np.random.Generator) -> str:
    slots = {
        "product": product,
        "feature": _pick(_FEATURES[product], rng),
        "error": _pick(_ERRORS[product], rng),
        "invoice": f"INV-{int(rng.integers(10_000, 99_999))}",
        "amount": f"{int(rng.integers(9, 400))}.{int(rng.integers(0, 100)):02d}",
    }
    if rng.random() < 0.06:
        body = _pick(_VAGUE, rng).format(**slots)
    elif product in _NEW_PRODUCT_TEMPLATES and rng.random() < 0.8:
        body = _pick(_NEW_PRODUCT_TEMPLATES[product][category], rng).format(**slots)
    else:
        body = _pick(_TEMPLATES[category], rng).format(**slots)
    body = _pick(_GREETINGS, rng) + _messy(body, rng, typo_rate=0.04)

    # Pasted logs: mostly in bug reports, sometimes anywhere (people paste what they see).
    if rng.random() < (0.45 if category == "bug_report" else 0.05):
        snippet = _pick(_LOG_SNIPPETS, rng).format(
            module=product.lower().replace(" ", "_"), line=int(rng.integers(10, 400)),
            minute=int(rng.integers(0, 60)), error=slots["error"],
        )
        body += "\n" + snippet
    # Personal data inside the text: the reason prediction logs need redaction.
    if rng.random() < 0.35:
        body += f"\nyou can reach me at {_email(rng)}"
    if rng.random() < 0.20:
        body += f" or call {_phone(rng)}"
    if rng.random() < 0.10:
        body += "\nSent from my phone"
    return body


def make_tickets(
    n: int,
    seed: int = 0,
    *,
    period: Period = "launch",
    label_noise: float = 0.02,
    days: int = 28,
) -> pd.DataFrame:
    """Generate ``n`` support tickets, reproducibly from ``seed``.

    Parameters
    ----------
    n:
        Number of tickets (0 gives an empty frame with the same columns).
    seed:
        Seed of the generator; the same ``(n, seed, period)`` gives the same frame.
    period:
        ``"launch"`` (the training distribution, four products) or ``"drifted"``
        (weeks later: two new products with new vocabulary, more bug reports and cancellations).
    label_noise:
        Fraction of tickets whose category label is replaced by a random one, as a tired
        human labeller does. Set 0 for clean labels.
    days:
        The tickets' ``created_at`` spread uniformly over this many days from the period's start
        (2026-01-05 for launch, 2026-03-02 for drifted).

    Returns
    -------
    pandas.DataFrame
        One row per ticket, sorted by ``created_at``, columns ``ticket_id`` (``"T-123456"``),
        ``created_at`` (datetime64), ``channel`` (email, chat or web), ``product``, ``category``
        (one of :data:`CATEGORIES`) and ``text``.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, got {period!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"label_noise must be in [0, 1], got {label_noise}")
    rng = np.random.default_rng([seed, PERIODS.index(period)])

    products = list(_PRODUCT_MIX[period])
    product_p = np.array(list(_PRODUCT_MIX[period].values()))
    categories = rng.choice(len(CATEGORIES), size=n, p=np.array(CATEGORY_MIX[period]))
    chosen_products = rng.choice(len(products), size=n, p=product_p / product_p.sum())
    seconds = np.sort(rng.integers(0, days * 86_400, size=n))

    texts, labels = [], []
    for category_index, product_index in zip(categories, chosen_products, strict=True):
        category = CATEGORIES[category_index]
        texts.append(_ticket_text(category, products[product_index], rng))
        if rng.random() < label_noise:
            category = CATEGORIES[int(rng.integers(0, len(CATEGORIES)))]
        labels.append(category)

    return pd.DataFrame(
        {
            "ticket_id": [f"T-{_ID_OFFSET[period] + i:06d}" for i in range(n)],
            "created_at": _START[period] + pd.to_timedelta(seconds, unit="s"),
            "channel": rng.choice(["email", "chat", "web"], size=n, p=[0.5, 0.2, 0.3]).tolist(),
            "product": [products[i] for i in chosen_products],
            "category": labels,
            "text": texts,
        }
    )

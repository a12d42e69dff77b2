"""aie.lora: the ticket splits, batching, pooling, the classifier, frozen features and the tiny BERT.

Everything runs on the tiny random BERT with a stand-in tokenizer, so the file takes a second or two;
one test loads the real MiniLM (a few seconds) to check the offline loading path.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from aie.lora import (
    CATEGORIES,
    TicketClassifier,
    batches,
    encode_frozen,
    frozen_features,
    label_ids,
    load_minilm,
    mean_pool,
    per_class_error_rates,
    predict,
    segment_mean,
    ticket_splits,
    tiny_bert,
)
from aie.tickets import NEW_PRODUCTS

torch.set_num_threads(1)


class WordTokenizer:
    """Enough of a Hugging Face tokenizer for aie.lora: one id per word (hashed), padded with 0."""

    def __call__(self, texts, padding=True, truncation=True, max_length=48, return_tensors="pt"):
        rows = [[1 + hash(w) % 99 for w in t.split()][:max_length] or [1] for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        return {"input_ids": ids, "attention_mask": mask}


TEXTS = ["one", "two words here", "a much longer ticket with many words in it", "short one", "x y"]


def test_ticket_splits_are_launch_train_and_drifted_test_and_reproducible() -> None:
    train, test = ticket_splits(60, 80, seed=3)
    assert len(train) == 60 and len(test) == 80
    assert not train["product"].isin(NEW_PRODUCTS).any()
    assert test["product"].isin(NEW_PRODUCTS).any()
    again, _ = ticket_splits(60, 80, seed=3)
    assert train["text"].equals(again["text"])


def test_label_ids_follow_the_category_order_and_reject_unknown_names() -> None:
    np.testing.assert_array_equal(label_ids(["how_to", "cancellation", "billing"]), [0, 5, 2])
    assert label_ids(list(CATEGORIES)).tolist() == list(range(len(CATEGORIES)))
    with pytest.raises(ValueError, match="unknown category"):
        label_ids(["refund"])


def test_mean_pool_ignores_padding() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))
    # An all-padding row must not divide by zero.
    assert torch.isfinite(mean_pool(hidden, torch.zeros(1, 3, dtype=torch.long))).all()


def test_segment_mean_averages_rows_per_segment() -> None:
    values = torch.tensor([[1.0], [3.0], [10.0], [5.0]])
    segment = torch.tensor([0, 0, 2, 2])
    torch.testing.assert_close(segment_mean(values, segment, 3), torch.tensor([[2.0], [0.0], [7.5]]))


def test_batches_cover_every_text_once_and_shuffle_reproducibly() -> None:
    labels = np.arange(len(TEXTS))
    plain = list(batches(WordTokenizer(), TEXTS, labels, batch_size=2))
    assert [len(y) for _, y in plain] == [2, 2, 1]
    assert torch.cat([y for _, y in plain]).tolist() == labels.tolist()
    # Each batch is padded to its own longest text only.
    assert plain[0][0]["input_ids"].shape == (2, 3)
    first = torch.cat([y for _, y in batches(WordTokenizer(), TEXTS, labels, batch_size=2, shuffle=True, seed=1)])
    second = torch.cat([y for _, y in batches(WordTokenizer(), TEXTS, labels, batch_size=2, shuffle=True, seed=1)])
    assert first.tolist() == second.tolist() and sorted(first.tolist()) == labels.tolist()
    assert all(y is None for _, y in batches(WordTokenizer(), TEXTS, None, batch_size=4))


def test_tiny_bert_has_minilm_module_names_and_is_deterministic() -> None:
    model = tiny_bert(seed=0)
    names = {name for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    assert "encoder.layer.1.attention.self.value" in names and "pooler.dense" in names
    ids = torch.randint(0, 100, (2, 5))
    torch.testing.assert_close(model(input_ids=ids).last_hidden_state, model(input_ids=ids).last_hidden_state)
    same = tiny_bert(seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), same.parameters(), strict=True))
    assert tiny_bert(seed=0, num_hidden_layers=3).config.num_hidden_layers == 3


def test_classifier_logits_shape_and_padding_invariance() -> None:
    model = TicketClassifier(tiny_bert(seed=1), num_labels=len(CATEGORIES)).eval()
    ids = torch.tensor([[5, 6, 7]])
    padded = torch.tensor([[5, 6, 7, 0, 0]])
    with torch.no_grad():
        short = model(ids, torch.ones_like(ids))
        long = model(padded, torch.tensor([[1, 1, 1, 0, 0]]))
    assert short.shape == (1, len(CATEGORIES))
    torch.testing.assert_close(short, long, atol=1e-5, rtol=1e-5)


def test_predict_and_encode_frozen_restore_training_mode() -> None:
    encoder = tiny_bert(seed=2)
    model = TicketClassifier(encoder, num_labels=3).train()
    logits = predict(model, WordTokenizer(), TEXTS, batch_size=2)
    assert logits.shape == (len(TEXTS), 3) and model.training
    pooled = encode_frozen(encoder.train(), WordTokenizer(), TEXTS, batch_size=3)
    assert pooled.shape == (len(TEXTS), 32) and encoder.training


def test_frozen_features_rebuild_the_pooled_output_from_the_last_layer() -> None:
    encoder = tiny_bert(seed=3)
    features = frozen_features(encoder, WordTokenizer(), TEXTS, batch_size=2)
    n_tokens = sum(min(len(t.split()), 48) for t in TEXTS)
    assert features.ffn_input.shape == (n_tokens, 64) and features.residual.shape == (n_tokens, 32)
    assert features.num_examples == len(TEXTS) and features.example.max().item() == len(TEXTS) - 1
    np.testing.assert_allclose(features.pooled, encode_frozen(encoder, WordTokenizer(), TEXTS), atol=1e-5)
    last = encoder.encoder.layer[-1].output
    with torch.no_grad():
        rebuilt = last.LayerNorm(last.dense(features.ffn_input) + features.residual)
    np.testing.assert_allclose(segment_mean(rebuilt, features.example, len(TEXTS)).numpy(), features.pooled, atol=1e-5)
    # The hook is removed afterwards.
    assert not encoder.encoder.layer[-1].output._forward_pre_hooks


def test_per_class_error_rates_with_an_absent_class() -> None:
    rates = per_class_error_rates(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), num_classes=3)
    np.testing.assert_allclose(rates[:2], [0.5, 0.0])
    assert np.isnan(rates[2])


def test_load_minilm_offline_gives_a_fresh_22_7m_parameter_bert() -> None:
    tokenizer, encoder = load_minilm()
    assert sum(p.numel() for p in encoder.parameters()) == 22_713_216
    assert not encoder.training
    _, other = load_minilm()
    assert other is not encoder
    inputs = tokenizer(["my invoice is wrong"], return_tensors="pt")
    assert tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])[0] == "[CLS]"

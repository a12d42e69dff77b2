"""The tiny GPT of aie.transformer: shapes, causality, the KV cache, and that it learns."""

from __future__ import annotations

import math

import pytest
import torch

from aie.transformer import CausalSelfAttention, GPTConfig, TinyGPT, estimate_loss, sample_batch

torch.set_num_threads(1)


def small_model(**overrides: int) -> TinyGPT:
    torch.manual_seed(0)
    sizes = {"vocab_size": 11, "context_length": 16, "d_model": 32, "n_heads": 4, "n_layers": 2} | overrides
    return TinyGPT(GPTConfig(**sizes)).eval()


def test_config_rejects_heads_that_do_not_divide_the_width() -> None:
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(vocab_size=10, d_model=30, n_heads=4)


def test_default_size_is_about_0_4m_parameters_and_counts_the_tied_head_once() -> None:
    model = TinyGPT(GPTConfig(vocab_size=100))
    d, layers = 128, 2
    per_block = 12 * d * d + 13 * d  # qkv, out, up, down weights and biases, two layer norms
    assert model.num_parameters() == layers * per_block + 100 * d + 128 * d + 2 * d
    assert 0.35e6 < model.num_parameters() < 0.45e6
    assert model.head.weight is model.token_embedding.weight


def test_logits_shape_and_initial_loss_near_uniform() -> None:
    model = small_model()
    ids = torch.randint(0, 11, (3, 16))
    logits, caches = model(ids)
    assert logits.shape == (3, 16, 11)
    assert len(caches) == 2 and caches[0][0].shape == (3, 4, 16, 8)
    targets = torch.randint(0, 11, (3, 16))
    assert abs(model.loss(ids, targets).item() - math.log(11)) < 0.15
    with pytest.raises(ValueError, match="context length"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_future_tokens_do_not_change_earlier_logits() -> None:
    model = small_model()
    ids = torch.randint(0, 11, (1, 10))
    changed = ids.clone()
    changed[0, 6:] = (changed[0, 6:] + 1) % 11
    torch.testing.assert_close(model(ids)[0][:, :6], model(changed)[0][:, :6])
    assert not torch.allclose(model(ids)[0][:, 6:], model(changed)[0][:, 6:])


def test_cached_forward_equals_the_full_forward() -> None:
    model = small_model()
    ids = torch.randint(0, 11, (2, 12))
    full, _ = model(ids)
    prefix, caches = model(ids[:, :5])
    pieces = [prefix]
    for t in range(5, 12):
        step, caches = model(ids[:, t : t + 1], caches)
        pieces.append(step)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=1e-5, atol=1e-5)


def test_attention_weights_are_kept_causal_and_normalised() -> None:
    attention = CausalSelfAttention(GPTConfig(vocab_size=5, d_model=16, n_heads=2))
    attention.keep_attention = True
    attention(torch.randn(1, 6, 16))
    weights = attention.attention
    assert weights is not None and weights.shape == (1, 2, 6, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 2, 6))
    assert (weights.triu(diagonal=1) == 0).all()


@pytest.mark.parametrize("prompt_length", [1, 4])
def test_generation_with_and_without_cache_gives_the_same_tokens(prompt_length: int) -> None:
    model = small_model()
    prompt = torch.randint(0, 11, (2, prompt_length))
    for kwargs in ({"temperature": 0.0}, {"temperature": 1.0, "top_k": 3}):
        tokens = [
            model.generate(prompt, 20, generator=torch.Generator().manual_seed(5), use_cache=use_cache, **kwargs)
            for use_cache in (False, True)
        ]
        assert tokens[0].shape == (2, prompt_length + 20)  # runs past the 16-token context
        assert torch.equal(tokens[0], tokens[1])
        assert torch.equal(tokens[0][:, :prompt_length], prompt)


def test_top_k_one_is_greedy() -> None:
    model = small_model()
    prompt = torch.randint(0, 11, (1, 3))
    greedy = model.generate(prompt, 8, temperature=0.0)
    assert torch.equal(model.generate(prompt, 8, temperature=2.0, top_k=1), greedy)


def test_sample_batch_targets_are_inputs_shifted_by_one() -> None:
    data = torch.arange(100)
    inputs, targets = sample_batch(data, 4, 10, torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (4, 10)
    torch.testing.assert_close(targets, inputs + 1)
    with pytest.raises(ValueError):
        sample_batch(torch.arange(5), 1, 5)


def test_a_few_steps_learn_a_repeating_sequence() -> None:
    model = small_model().train()
    data = torch.tensor([0, 1, 2, 3, 4, 5, 6] * 40)
    before = estimate_loss(model, data, batches=2, batch_size=4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(40):
        loss = model.loss(*sample_batch(data, 8, 16, generator))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = estimate_loss(model, data, batches=2, batch_size=4)
    assert after < 0.2 < before
    assert model.training

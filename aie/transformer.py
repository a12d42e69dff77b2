"""A tiny GPT: decoder-only transformer, pre-norm blocks, learned positions, and a KV cache.

Small enough to train on a laptop CPU in seconds (about 0.4M parameters at the
defaults), written the way the large ones are: the same block, the same
attention, the same cache; only the sizes in ``GPTConfig`` differ.

Attention is written out (scores, mask, softmax, weighted sum) rather than
calling ``torch.nn.functional.scaled_dot_product_attention``, so that the
weights can be kept and drawn (``keep_attention``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

# One layer's cache: keys and values of every position seen so far, each (batch, heads, positions, head_dim).
LayerCache = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class GPTConfig:
    """The sizes of a GPT. The defaults give about 0.4M parameters with a 100-character vocabulary."""

    vocab_size: int
    context_length: int = 128
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which each position sees only itself and earlier positions."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.keep_attention = False
        self.attention: torch.Tensor | None = None  # (batch, heads, queries, keys) when keep_attention is set

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> tuple[torch.Tensor, LayerCache]:
        """Attend from the positions of ``x`` (batch, new, d_model) to the cached positions and to themselves.

        Returns the output and the cache extended by the new positions. Without a
        cache this is ordinary causal self-attention over ``x``.
        """
        batch, new, d_model = x.shape
        head_dim = d_model // self.n_heads
        q, k, v = self.qkv(x).split(d_model, dim=-1)
        q, k, v = (t.view(batch, new, self.n_heads, head_dim).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        total = k.shape[2]
        scores = q @ k.transpose(-2, -1) / math.sqrt(head_dim)
        # The new queries are the last `new` of `total` positions: query i may see keys up to total - new + i.
        allowed = torch.ones(new, total, dtype=torch.bool, device=x.device).tril(diagonal=total - new)
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
        if self.keep_attention:
            self.attention = weights.detach()
        y = (self.dropout(weights) @ v).transpose(1, 2).reshape(batch, new, d_model)
        return self.out(y), (k, v)


class MLP(nn.Module):
    """The position-wise feed-forward network: widen by 4, GELU, project back."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.up = nn.Linear(config.d_model, 4 * config.d_model)
        self.down = nn.Linear(4 * config.d_model, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.gelu(self.up(x))))


class Block(nn.Module):
    """A pre-norm transformer block: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.d_model)
        self.attention = CausalSelfAttention(config)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> tuple[torch.Tensor, LayerCache]:
        attended, cache = self.attention(self.norm1(x), cache)
        x = x + attended
        return x + self.mlp(self.norm2(x)), cache


class TinyGPT(nn.Module):
    """Token and position embeddings, a stack of blocks, a final norm, and a head tied to the token embedding."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = nn.Embedding(config.context_length, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.token_embedding.weight  # weight tying: one matrix reads and writes tokens
        self.apply(_init_weights)

    def forward(
        self, ids: torch.Tensor, caches: list[LayerCache] | None = None
    ) -> tuple[torch.Tensor, list[LayerCache]]:
        """Logits (batch, positions, vocab) for token ids (batch, positions), and every layer's updated cache.

        With ``caches`` from an earlier call, ``ids`` are the tokens that follow
        the cached ones and take the positions after them.
        """
        start = 0 if caches is None else caches[0][0].shape[2]
        new = ids.shape[1]
        if start + new > self.config.context_length:
            raise ValueError(
                f"{start + new} positions exceed the context length {self.config.context_length}; crop the input"
            )
        positions = torch.arange(start, start + new, device=ids.device)
        x = self.dropout(self.token_embedding(ids) + self.position_embedding(positions))
        new_caches = []
        for i, block in enumerate(self.blocks):
            x, cache = block(x, None if caches is None else caches[i])
            new_caches.append(cache)
        return self.head(self.norm(x)), new_caches

    def loss(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of predicting ``targets`` (batch, positions) from ``ids``."""
        logits, _ = self(ids)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def num_parameters(self) -> int:
        """Parameters, each counted once (the tied head shares the token embedding)."""
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def generate(
        self,
        ids: torch.Tensor,
        max_new_tokens: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Continue ``ids`` (batch, positions) by ``max_new_tokens`` tokens; ``temperature=0`` means greedy.

        With ``use_cache`` each step feeds only the newest token and reuses every
        earlier key and value. Once the sequence fills the context, learned
        absolute positions shift under every token, so the cache cannot be reused
        and each step recomputes the last ``context_length`` tokens, exactly as
        the uncached path does.
        """
        context = self.config.context_length
        caches: list[LayerCache] | None = None
        for _ in range(max_new_tokens):
            if use_cache and caches is not None and ids.shape[1] <= context:
                logits, caches = self(ids[:, -1:], caches)
            else:
                logits, caches = self(ids[:, -context:])
            next_id = _sample(logits[:, -1, :], temperature, top_k, generator)
            ids = torch.cat([ids, next_id], dim=1)
        return ids


def _sample(
    logits: torch.Tensor, temperature: float, top_k: int | None, generator: torch.Generator | None
) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth_largest = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), num_samples=1, generator=generator)


def _init_weights(module: nn.Module) -> None:
    # Small initial weights keep the first logits near uniform, so the first loss is near log(vocab).
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def sample_batch(
    data: torch.Tensor, batch_size: int, context_length: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of a 1-D token tensor: inputs (batch, context) and the same windows shifted by one."""
    if data.numel() <= context_length:
        raise ValueError(f"need more than {context_length} tokens, got {data.numel()}")
    starts = torch.randint(0, data.numel() - context_length, (batch_size,), generator=generator)
    offsets = torch.arange(context_length)
    inputs = data[starts[:, None] + offsets]
    return inputs, data[starts[:, None] + offsets + 1]


@torch.no_grad()
def estimate_loss(
    model: TinyGPT,
    data: torch.Tensor,
    *,
    batches: int = 4,
    batch_size: int = 8,
    context_length: int | None = None,
    seed: int = 0,
) -> float:
    """Mean loss over ``batches`` random windows of ``data``, the same windows at every call (fixed seed).

    Windows are ``context_length`` tokens long (the model's context by default).
    """
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    length = context_length or model.config.context_length
    losses = [model.loss(*sample_batch(data, batch_size, length, generator)).item() for _ in range(batches)]
    model.train(was_training)
    return sum(losses) / len(losses)

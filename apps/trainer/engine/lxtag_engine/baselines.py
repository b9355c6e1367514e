"""Baselines with the lxtag model contract (same inputs; outputs logits (B, H) and pooled (B, D)), for honest
comparison with LXMERT4Hashtag: a label-frequency prior, a linear model over the caption's TF-IDF, the language
stream alone, and the paper's concat idea (pooled text vector + projected mean visual vector).

A model whose initialisation needs the data has `fit_data(train: Split)`, which `train()` calls once before the
first step; what it computes lives in the state dict, so checkpoints and exports rebuild it exactly."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .dataset import Split
from .lxmert import AnswerHead, LxmertConfig, LxmertEmbeddings, LxmertLayer, additive_mask, init_weights

NUM_SPECIAL_TOKENS = 5  # [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4: BERT's vocabulary starts with them
HASH_WIDTH = 256  # TfidfLinear's pooled width (or the vocabulary size when smaller)
HASH_SEED = 0  # fixed, so every TfidfLinear of one vocabulary size hashes alike
FIT_CHUNK = 4096  # posts read from the memory map at a time by fit_data


def label_log_odds(labels: np.ndarray) -> torch.Tensor:
    """(H,) log-odds of each hashtag over the posts, add-half smoothed so a hashtag no post has stays finite."""
    n = labels.shape[0]
    positives = np.zeros(labels.shape[1], dtype=np.float64)
    for start in range(0, n, FIT_CHUNK):
        positives += np.asarray(labels[start:start + FIT_CHUNK], dtype=np.float64).sum(axis=0)
    p = (positives + 0.5) / (n + 1.0)
    return torch.from_numpy(np.log(p / (1 - p))).float()


def document_frequency(input_ids: np.ndarray, attention_mask: np.ndarray, vocab_size: int) -> np.ndarray:
    """(V,) how many posts hold each token id among their unmasked positions."""
    df = np.zeros(vocab_size, dtype=np.int64)
    for start in range(0, input_ids.shape[0], FIT_CHUNK):
        ids = np.asarray(input_ids[start:start + FIT_CHUNK], dtype=np.int64)  # (n, L)
        mask = np.asarray(attention_mask[start:start + FIT_CHUNK]).astype(bool)  # (n, L)
        if ids.size and (ids[mask].min(initial=0) < 0 or ids[mask].max(initial=0) >= vocab_size):
            raise ValueError(f"token ids {int(ids[mask].min())}..{int(ids[mask].max())} outside the vocabulary "
                             f"of {vocab_size}")
        ids = np.sort(np.where(mask, ids, -1), axis=1)  # (n, L) masked positions first, as -1
        first = np.ones_like(ids, dtype=bool)
        first[:, 1:] = ids[:, 1:] != ids[:, :-1]  # each id once per post
        df += np.bincount(ids[first & (ids >= 0)], minlength=vocab_size)
    return df


class Popularity(nn.Module):
    """Scores every post with the same learned label prior (trained with BCE it converges to the log-odds)."""

    architecture = "popularity"

    def __init__(self, config: LxmertConfig, num_hashtags: int) -> None:
        super().__init__()
        self.config = config
        self.prior = nn.Parameter(torch.zeros(num_hashtags))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
                visual_feats: torch.Tensor, visual_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = input_ids.shape[0]
        # tie the outputs to the batch size so the exported graph keeps B dynamic
        zeros = visual_feats[:, 0, :1] * 0  # (B, 1)
        return self.prior.unsqueeze(0) + zeros, zeros.expand(b, 1)

    @torch.no_grad()
    def fit_data(self, train: Split) -> None:
        self.prior.copy_(label_log_odds(train.labels))  # where BCE would take it: training starts at its optimum


class TfidfLinear(nn.Module):
    """logits = tfidf(caption) . W + b: the caption's L2-normalised TF-IDF vector (raw counts, smoothed idf of the
    training split) times one weight row per vocabulary id. Computed from positions, never as a (B, V) vector:
    a token seen c times among the unmasked positions adds idf * W[id] once per position, which is c * idf * W[id]
    in all, and the norm is sqrt(sum_l mask_l * c_l * idf_l^2) for the same reason.

    pooled (B, P), P = min(vocab, 256): the same normalised TF-IDF vector, feature-hashed (a fixed seeded bucket
    and sign per token id) to a fixed width. Hashing keeps inner products in expectation, so cosine neighbours
    over `pooled` approximate cosine neighbours of the captions' TF-IDF vectors; the image plays no part."""

    architecture = "linear"

    def __init__(self, config: LxmertConfig, num_hashtags: int) -> None:
        super().__init__()
        self.config = config
        v = config.vocab_size
        # (H, V) rather than (V, H): warm starts move rows with their hashtags, as for the other heads
        self.hashtag_weight = nn.Parameter(torch.zeros(num_hashtags, v))
        self.hashtag_bias = nn.Parameter(torch.zeros(num_hashtags))
        idf = torch.ones(v)
        idf[:NUM_SPECIAL_TOKENS] = 0  # special tokens count for nothing
        self.register_buffer("idf", idf)  # (V,) until fit_data: plain term counts
        g = torch.Generator().manual_seed(HASH_SEED)
        self.register_buffer("hash_bucket", torch.randint(0, min(v, HASH_WIDTH), (v,), generator=g))  # (V,)
        self.register_buffer("hash_sign", torch.randint(0, 2, (v,), generator=g).float() * 2 - 1)  # (V,) +-1
        # a buffer, so it follows the model to its device and exports as a constant
        self.register_buffer("buckets", torch.arange(min(v, HASH_WIDTH)), persistent=False)  # (P,)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
                visual_feats: torch.Tensor, visual_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = attention_mask.float()  # (B, L)
        same = (input_ids.unsqueeze(2) == input_ids.unsqueeze(1)).float()  # (B, L, L)
        count = (same * mask.unsqueeze(1)).sum(dim=2)  # (B, L) occurrences of each position's token
        idf = self.idf[input_ids] * mask  # (B, L)
        # + eps, not clamp_min, which exports a Clip with a None bound that ONNX shape inference cannot type
        norm = ((count * idf * idf).sum(dim=1, keepdim=True) + 1e-24).sqrt()  # (B, 1)
        weight = idf / norm  # (B, L) each position's share of the normalised tf-idf vector
        rows = nn.functional.embedding(input_ids, self.hashtag_weight.t())  # (B, L, H)
        logits = (weight.unsqueeze(2) * rows).sum(dim=1) + self.hashtag_bias  # (B, H)
        onehot = (self.hash_bucket[input_ids].unsqueeze(2) == self.buckets).float()  # (B, L, P)
        signed = weight * self.hash_sign[input_ids]  # (B, L)
        return logits, (signed.unsqueeze(2) * onehot).sum(dim=1)  # (B, H), (B, P)

    @torch.no_grad()
    def fit_data(self, train: Split) -> None:
        """Smoothed idf, log((1 + N) / (1 + df)) + 1, of the training split; ids no training post holds get 0, as
        they are outside a vectoriser's vocabulary (their weight rows never train). The bias starts at the label
        log-odds."""
        n = len(train)
        df = document_frequency(train.input_ids, train.attention_mask, self.config.vocab_size)  # (V,)
        idf = torch.from_numpy(np.where(df > 0, np.log((1.0 + n) / (1.0 + df)) + 1, 0.0)).float()  # (V,)
        idf[:NUM_SPECIAL_TOKENS] = 0
        self.idf.copy_(idf)
        self.hashtag_bias.copy_(label_log_odds(train.labels))


class TextEncoder(nn.Module):
    """LXMERT's language stream (embeddings + the l-layers) and its [CLS] vector."""

    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.embeddings = LxmertEmbeddings(c)
        self.layer = nn.ModuleList([LxmertLayer(c) for _ in range(c.l_layers)])
        self.pooler = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(input_ids, token_type_ids)
        mask = additive_mask(attention_mask, x.dtype)
        for layer in self.layer:
            x = layer(x, mask)
        return torch.tanh(self.pooler(x[:, 0]))  # (B, D)


class TextOnly(nn.Module):
    architecture = "text-only"

    def __init__(self, config: LxmertConfig, num_hashtags: int) -> None:
        super().__init__()
        self.config = config
        self.text = TextEncoder(config)
        self.answer_head = AnswerHead(config.hidden_size, num_hashtags)
        init_weights(self, config.initializer_range)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
                visual_feats: torch.Tensor, visual_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.text(input_ids, attention_mask, token_type_ids)
        return self.answer_head(pooled), pooled


class Concat(nn.Module):
    """Pooled text vector and a projection of the mean region feature, concatenated, then the head."""

    architecture = "concat"

    def __init__(self, config: LxmertConfig, num_hashtags: int) -> None:
        super().__init__()
        self.config = config
        self.text = TextEncoder(config)
        self.visual = nn.Sequential(nn.Linear(config.visual_feat_dim, config.hidden_size), nn.Tanh())
        self.answer_head = AnswerHead(2 * config.hidden_size, num_hashtags)
        init_weights(self, config.initializer_range)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
                visual_feats: torch.Tensor, visual_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = torch.cat([self.text(input_ids, attention_mask, token_type_ids),
                            self.visual(visual_feats.mean(dim=1))], dim=-1)  # (B, 2D)
        return self.answer_head(pooled), pooled

"""Baselines with the lxtag model contract (same inputs; outputs logits (B, H) and pooled (B, D)), for honest
comparison with LXMERT4Hashtag: a label-frequency prior, the language stream alone, and the paper's concat idea
(pooled text vector + projected mean visual vector)."""

from __future__ import annotations

import torch
from torch import nn

from .lxmert import AnswerHead, LxmertConfig, LxmertEmbeddings, LxmertLayer, additive_mask, init_weights


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

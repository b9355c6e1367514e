"""LXMERT4Hashtag: the LXMERT encoder (HuggingFace `LxmertModel` layout, so public checkpoints load strictly)
with the VQA-style multi-label answer head on the pooled cross-modal [CLS] vector (Khalil et al. 2023).

Reads top-down from parts to the whole. Shapes: B batch, T text tokens, N boxes (36), D hidden, H hashtags.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

LN_EPS = 1e-12  # hard-coded in every LayerNorm of HF LXMERT, not a config field
MASK_VALUE = -10000.0  # finite additive mask (original LXMERT); exports cleanly and matches finfo.min on real rows


@dataclass
class LxmertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    l_layers: int = 9
    x_layers: int = 5
    r_layers: int = 5
    visual_feat_dim: int = 2048
    visual_pos_dim: int = 4  # (x1/W, y1/H, x2/W, y2/H), not (x, y, w, h) as HF's docstring says
    initializer_range: float = 0.02  # std of the normal init of every linear and embedding weight (BERT's)

    @staticmethod
    def preset(name: str, **overrides: object) -> "LxmertConfig":
        presets = {
            "base": {},  # the paper's sizes
            "tiny": dict(hidden_size=32, num_attention_heads=2, intermediate_size=64, l_layers=2, x_layers=1,
                         r_layers=1, max_position_embeddings=128),
        }
        if name not in presets:
            raise ValueError(f"unknown LXMERT preset {name!r}; expected one of {sorted(presets)}")
        return LxmertConfig(**{**presets[name], **overrides})  # type: ignore[arg-type]

    def to_dict(self) -> dict:
        return asdict(self)


class LxmertEmbeddings(nn.Module):
    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        # padding_idx=0 on all three tables, as in HF and the original (row 0 gets no gradient)
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=0)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size, padding_idx=0)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size, padding_idx=0)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=LN_EPS)  # odd name kept so checkpoints load
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)  # (1, T)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))  # (B, T, D)


class LxmertAttention(nn.Module):
    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        if c.hidden_size % c.num_attention_heads:
            raise ValueError(f"hidden_size {c.hidden_size} is not a multiple of num_attention_heads {c.num_attention_heads}")
        self.heads = c.num_attention_heads
        self.head_dim = c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.dropout = nn.Dropout(c.attention_probs_dropout_prob)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.head_dim).transpose(1, 2)  # (B, h, T, hd)

    def forward(self, hidden: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        q, k, v = self.split(self.query(hidden)), self.split(self.key(context)), self.split(self.value(context))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (B, h, Tq, Tk)
        if mask is not None:
            scores = scores + mask  # (B, 1, 1, Tk) additive
        probs = self.dropout(scores.softmax(dim=-1))
        out = (probs @ v).transpose(1, 2).contiguous()  # (B, Tq, h, hd)
        return out.view(out.shape[0], out.shape[1], -1)


class LxmertAttentionOutput(nn.Module):
    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=LN_EPS)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)  # post-LN


class LxmertSelfAttentionLayer(nn.Module):
    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.self = LxmertAttention(c)
        self.output = LxmertAttentionOutput(c)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(x, x, mask), x)


class LxmertCrossAttentionLayer(nn.Module):
    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.att = LxmertAttention(c)
        self.output = LxmertAttentionOutput(c)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.att(x, context, context_mask), x)


class LxmertIntermediate(nn.Module):
    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))  # exact erf GELU, not the tanh approximation


class LxmertOutput(nn.Module):
    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(c.intermediate_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=LN_EPS)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class LxmertLayer(nn.Module):
    """A BERT layer: used for the language encoder (`layer`) and the object-relationship encoder (`r_layers`)."""

    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.attention = LxmertSelfAttentionLayer(c)
        self.intermediate = LxmertIntermediate(c)
        self.output = LxmertOutput(c)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = self.attention(x, mask)
        return self.output(self.intermediate(x), x)


class LxmertXLayer(nn.Module):
    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.visual_attention = LxmertCrossAttentionLayer(c)  # ONE module, shared by both directions
        self.lang_self_att = LxmertSelfAttentionLayer(c)
        self.visn_self_att = LxmertSelfAttentionLayer(c)
        self.lang_inter = LxmertIntermediate(c)
        self.lang_output = LxmertOutput(c)
        self.visn_inter = LxmertIntermediate(c)
        self.visn_output = LxmertOutput(c)

    def forward(self, lang: torch.Tensor, lang_mask: torch.Tensor | None, visn: torch.Tensor,
                visn_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        # both directions read the same inputs: parallel, not sequential
        lang1 = self.visual_attention(lang, visn, visn_mask)
        visn1 = self.visual_attention(visn, lang, lang_mask)
        lang2 = self.lang_self_att(lang1, lang_mask)
        visn2 = self.visn_self_att(visn1, visn_mask)
        return self.lang_output(self.lang_inter(lang2), lang2), self.visn_output(self.visn_inter(visn2), visn2)


class LxmertVisualFeatureEncoder(nn.Module):
    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.visn_fc = nn.Linear(c.visual_feat_dim, c.hidden_size)
        self.visn_layer_norm = nn.LayerNorm(c.hidden_size, eps=LN_EPS)
        self.box_fc = nn.Linear(c.visual_pos_dim, c.hidden_size)
        self.box_layer_norm = nn.LayerNorm(c.hidden_size, eps=LN_EPS)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, feats: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        x = self.visn_layer_norm(self.visn_fc(feats))  # (B, N, D)
        y = self.box_layer_norm(self.box_fc(pos))  # (B, N, D)
        return self.dropout((x + y) / 2)


class LxmertEncoder(nn.Module):
    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.visn_fc = LxmertVisualFeatureEncoder(c)
        self.layer = nn.ModuleList([LxmertLayer(c) for _ in range(c.l_layers)])  # named so BERT weights load
        self.x_layers = nn.ModuleList([LxmertXLayer(c) for _ in range(c.x_layers)])
        self.r_layers = nn.ModuleList([LxmertLayer(c) for _ in range(c.r_layers)])

    def forward(self, lang: torch.Tensor, lang_mask: torch.Tensor | None, feats: torch.Tensor, pos: torch.Tensor,
                visn_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        visn = self.visn_fc(feats, pos)
        for layer in self.layer:
            lang = layer(lang, lang_mask)
        for layer in self.r_layers:
            visn = layer(visn, visn_mask)
        for layer in self.x_layers:
            lang, visn = layer(lang, lang_mask, visn, visn_mask)
        return lang, visn


class LxmertPooler(nn.Module):
    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, lang: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(lang[:, 0]))  # [CLS] after the last cross layer, (B, D)


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, T) of 1 = keep, 0 = pad  ->  (B, 1, 1, T) additive."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * MASK_VALUE


class LxmertModel(nn.Module):
    """State-dict compatible with HF `LxmertModel` (449 tensors for the base config)."""

    def __init__(self, c: LxmertConfig) -> None:
        super().__init__()
        self.config = c
        self.embeddings = LxmertEmbeddings(c)
        self.encoder = LxmertEncoder(c)
        self.pooler = LxmertPooler(c)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
                visual_feats: torch.Tensor, visual_pos: torch.Tensor) -> torch.Tensor:
        lang = self.embeddings(input_ids, token_type_ids)
        lang, _ = self.encoder(lang, additive_mask(attention_mask, lang.dtype), visual_feats, visual_pos)
        return self.pooler(lang)


def init_weights(model: nn.Module, std: float) -> None:
    """BERT's initialisation, shared by every trainable architecture so comparisons start alike: normal(0, std)
    linear and embedding weights, zero biases and padding rows, unit LayerNorms."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            m.weight.data.normal_(0.0, std)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                m.weight.data[m.padding_idx].zero_()
        if isinstance(m, nn.Linear) and m.bias is not None:
            m.bias.data.zero_()
        if isinstance(m, nn.LayerNorm):
            m.weight.data.fill_(1.0)
            m.bias.data.zero_()


class AnswerHead(nn.Module):
    """The VQA answer-head layout (keys `logit_fc.{0,2,3}`): Linear D->2D, GELU, LayerNorm, Linear 2D->H."""

    def __init__(self, hidden: int, num_labels: int) -> None:
        super().__init__()
        self.logit_fc = nn.Sequential(nn.Linear(hidden, hidden * 2), nn.GELU(), nn.LayerNorm(hidden * 2, eps=LN_EPS),
                                      nn.Linear(hidden * 2, num_labels))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.logit_fc(pooled)


class Lxmert4Hashtag(nn.Module):
    """Same inputs and outputs as every lxtag model (CONTRACTS.md 4): returns (logits (B, H), pooled (B, D))."""

    architecture = "lxmert4hashtag"

    def __init__(self, config: LxmertConfig, num_hashtags: int) -> None:
        super().__init__()
        self.config = config
        self.lxmert = LxmertModel(config)
        self.answer_head = AnswerHead(config.hidden_size, num_hashtags)
        init_weights(self, config.initializer_range)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor,
                visual_feats: torch.Tensor, visual_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.lxmert(input_ids, attention_mask, token_type_ids, visual_feats, visual_pos)
        return self.answer_head(pooled), pooled

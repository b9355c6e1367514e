import type { RankingScores as MetricsAtK, RankingMetrics } from "@lxtag/contracts";

// One k's scores (CONTRACTS.md 6) and scores by k are the contracts' types, as the API serves them; the keys are the
// engine's, so its metrics.json and ours read alike.
export type { MetricsAtK, RankingMetrics };

export const KS = [1, 2, 3, 4, 5] as const;

const harmonic = (p: number, r: number) => (p + r ? (2 * p * r) / (p + r) : 0);

/**
 * CONTRACTS.md section 6, as the engine's `ranking_metrics` computes it. For each post the top k of its ranking
 * are the predictions and G its true labels, all of them (also hashtags the model cannot output, so recall is
 * honest about the vocabulary). With TP_k = |top-k ∩ G|: micro precision Σ TP_k / (k · N), recall Σ TP_k / Σ |G|,
 * F1 their harmonic mean; accuracy the share of posts with a hit in the top k. Macro: precision the mean of
 * TP_k / k over all posts, recall the mean of TP_k / |G| over posts with labels, F1 their harmonic mean. A ranking
 * shorter than k (a model with fewer outputs) still divides by k.
 */
export function rankingMetrics(
  ranked: readonly (readonly string[])[],
  truth: readonly (readonly string[])[],
  ks: readonly number[] = KS,
): RankingMetrics {
  if (ranked.length !== truth.length)
    throw new RangeError(`${ranked.length} rankings for ${truth.length} posts`);
  const n = ranked.length;
  const sets = truth.map((g) => new Set(g));
  const totalTrue = sets.reduce((s, g) => s + g.size, 0);
  const labeled = sets.filter((g) => g.size > 0).length;
  const out: RankingMetrics = {};
  for (const k of ks) {
    let tp = 0;
    let hits = 0;
    let macroP = 0;
    let macroR = 0;
    ranked.forEach((r, i) => {
      const g = sets[i]!;
      const t = r.slice(0, k).filter((h) => g.has(h)).length;
      tp += t;
      if (t > 0) hits++;
      macroP += t / k;
      if (g.size) macroR += t / g.size;
    });
    const precision = n ? tp / (k * n) : 0;
    const recall = totalTrue ? tp / totalTrue : 0;
    const mp = n ? macroP / n : 0;
    const mr = labeled ? macroR / labeled : 0;
    out[String(k)] = {
      precision,
      recall,
      f1: harmonic(precision, recall),
      accuracy: n ? hits / n : 0,
      macro_precision: mp,
      macro_recall: mr,
      macro_f1: harmonic(mp, mr),
    };
  }
  return out;
}

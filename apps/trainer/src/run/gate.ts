import type { GateDecision } from "@lxtag/contracts";
import type { Evaluation } from "./evaluate.js";

export type { GateDecision };

const f1At = (metrics: Evaluation["candidate"]["metrics"], k: number) => metrics[String(k)]?.f1 ?? 0;
const fmt = (x: number) => x.toFixed(4);

/**
 * Promote the candidate when no model is active, or when its F1@k on the test posts beats the active model's
 * (on the same posts) by more than `margin`; otherwise it stays a candidate.
 */
export function decide(evaluation: Evaluation, gate: { k: number; margin: number }): GateDecision {
  const { k, margin } = gate;
  const candidate = { id: evaluation.candidate.id, f1: f1At(evaluation.candidate.metrics, k) };
  if (!evaluation.active)
    return { promote: true, reason: "no model is active", k, margin, candidate, active: null };
  const active = { id: evaluation.active.id, f1: f1At(evaluation.active.metrics, k) };
  const promote = candidate.f1 > active.f1 + margin;
  const reason =
    `candidate F1@${k} ${fmt(candidate.f1)} ${promote ? "beats" : "does not beat"} the active model's ` +
    `${fmt(active.f1)} by more than ${margin} on the same ${evaluation.posts} test posts`;
  return { promote, reason, k, margin, candidate, active };
}

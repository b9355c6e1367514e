import type { GateDecision } from "@lxtag/contracts";
import type { Evaluation } from "./evaluate.js";

export type { GateDecision };

const f1At = (metrics: Evaluation["candidate"]["metrics"], k: number) => metrics[String(k)]?.f1 ?? 0;
const fmt = (x: number) => x.toFixed(4);

/**
 * Promote the candidate when no model serves, or when its F1@k on the test posts beats the serving model's (on
 * the same posts) by more than `margin`; otherwise it stays a candidate. `refusedActive`: the registry's active
 * version, which a predict worker refused; the evaluation's `active` is then the version served in its place, if
 * any, and the reason says so.
 */
export function decide(
  evaluation: Evaluation,
  gate: { k: number; margin: number },
  refusedActive?: string,
): GateDecision {
  const { k, margin } = gate;
  const candidate = { id: evaluation.candidate.id, f1: f1At(evaluation.candidate.metrics, k) };
  const refusal = refusedActive ? `a predict worker refused the active model ${refusedActive}; ` : "";
  if (!evaluation.active)
    return {
      promote: true,
      reason: refusal ? `${refusal}no version serves in its place` : "no model is active",
      k,
      margin,
      candidate,
      active: null,
    };
  const active = { id: evaluation.active.id, f1: f1At(evaluation.active.metrics, k) };
  const promote = candidate.f1 > active.f1 + margin;
  const compared = refusal ? `${active.id}'s, the version served in its place,` : "the active model's";
  const reason =
    `${refusal}candidate F1@${k} ${fmt(candidate.f1)} ${promote ? "beats" : "does not beat"} ${compared} ` +
    `${fmt(active.f1)} by more than ${margin} on the same ${evaluation.posts} test posts`;
  return { promote, reason, k, margin, candidate, active };
}

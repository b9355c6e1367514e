import type { RankingMetrics } from "@lxtag/contracts";

/** Every architecture the engine trains; each exports a bundle the predict worker serves. */
export const ARCHITECTURES = ["lxmert4hashtag", "concat", "text-only", "linear", "popularity"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];
export const LOSSES = ["bce", "softmax"] as const;
export type Loss = (typeof LOSSES)[number];

/** One model a run trains and weighs against the others on the validation posts. */
export interface CandidateSpec {
  /** As written in the list, e.g. `lxmert4hashtag+mask@softmax`: names its folder and its line in the report. */
  name: string;
  arch: Architecture;
  loss: Loss;
  /** Train a share of the posts on their hashtag-free captions (the run's mask share). */
  mask: boolean;
}

export class CandidateSpecError extends Error {
  override name = "CandidateSpecError";
}

/**
 * Parses a candidate list: comma-separated `<architecture>[+mask][@<loss>]`, e.g.
 * `lxmert4hashtag,lxmert4hashtag+mask,text-only,linear,popularity`. A spec without `@loss` takes `defaultLoss`.
 * The order is the preference on a tie.
 */
export function parseCandidates(list: string, defaultLoss: Loss): CandidateSpec[] {
  const specs = list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((name) => {
      const m = /^([a-z0-9-]+)((?:\+mask)?)(?:@([a-z]+))?$/.exec(name);
      const arch = m?.[1] as Architecture | undefined;
      const loss = (m?.[3] ?? defaultLoss) as Loss;
      if (!m || !ARCHITECTURES.includes(arch!) || !LOSSES.includes(loss))
        throw new CandidateSpecError(
          `candidate ${JSON.stringify(name)}: expected <architecture>[+mask][@<loss>] with an architecture of ` +
            `${ARCHITECTURES.join(", ")} and a loss of ${LOSSES.join(", ")}`,
        );
      return { name, arch: arch!, loss, mask: m[2] === "+mask" };
    });
  if (!specs.length)
    throw new CandidateSpecError("the candidate list is empty: name at least one architecture");
  const names = specs.map((s) => s.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new CandidateSpecError(`candidate ${twice} is listed twice`);
  return specs;
}

/** A trained candidate's validation scores: with the paper's caption rule and, when written, hashtag-free. */
export interface CandidateScores {
  val: RankingMetrics;
  valHashtagFree: RankingMetrics | null;
}

/** What selection weighs: F1@k on the validation posts, the mean over the caption variants the dataset has. */
export function selectionScore(scores: CandidateScores, k: number): number {
  const f1 = (m: RankingMetrics) => m[String(k)]?.f1 ?? 0;
  return scores.valHashtagFree ? (f1(scores.val) + f1(scores.valHashtagFree)) / 2 : f1(scores.val);
}

export interface Selection<T> {
  chosen: T;
  reason: string;
}

const fmt = (x: number) => x.toFixed(4);

/**
 * The candidate with the best {@link selectionScore}; on a tie the one listed first. The reason says by how much it
 * beat the runner-up, and, when a model without the image beat every one with it while the detector's weights are
 * random, that this is why (the image branch then only adds noise).
 */
export function selectCandidate<T extends { spec: CandidateSpec; scores: CandidateScores }>(
  trained: readonly T[],
  options: { k: number; detectorWeights: string | null },
): Selection<T> {
  if (!trained.length) throw new Error("no candidate was trained");
  const scored = trained.map((t) => ({ t, score: selectionScore(t.scores, options.k) }));
  const best = scored.reduce((a, b) => (b.score > a.score ? b : a));
  const others = scored.filter((s) => s !== best).sort((a, b) => b.score - a.score);
  const variants = best.t.scores.valHashtagFree
    ? "the mean of model text and hashtag-free captions"
    : "model text";
  let reason = `${best.t.spec.name} has the best validation F1@${options.k} (${fmt(best.score)}, ${variants})`;
  if (others[0]) reason += `; runner-up ${others[0].t.spec.name} ${fmt(others[0].score)}`;
  const usesImage = (a: Architecture) => a === "lxmert4hashtag" || a === "concat";
  const imageModels = scored.filter((s) => usesImage(s.t.spec.arch));
  if (!usesImage(best.t.spec.arch) && imageModels.length) {
    const bestImage = imageModels.reduce((a, b) => (b.score > a.score ? b : a));
    reason +=
      `; the best model that sees the image, ${bestImage.t.spec.name}, scored ${fmt(bestImage.score)}` +
      (options.detectorWeights === "random"
        ? ": the serving detector has random weights, so its region features carry no meaning and the image branch adds noise"
        : "");
  }
  return { chosen: best.t, reason };
}

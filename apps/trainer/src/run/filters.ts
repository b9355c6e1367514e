import type { TrainingFilterReport, TrainingFilterStep } from "@lxtag/contracts";
import { SPLIT_NAMES, type Splits, splitSizes } from "./split.js";

/** A post as the filters see it: its labels (caption hashtags and human corrections applied). */
export interface Labeled {
  id: string;
  labels: readonly string[];
}

// One filter's effect (posts in and out over all splits; past the split, the outputs in and out) and the report
// stored on the run (each step in order, the split sizes before and after the filters, the outputs): the
// contracts' types, as the API serves them.
export type FilterStep = TrainingFilterStep;
export type FilterReport = TrainingFilterReport;
type SplitSizes = FilterReport["split"];

/** What the filters work on: the split posts and the model's outputs (most frequent training hashtag first). */
export interface FilterState<T extends Labeled> {
  splits: Splits<T>;
  hashtags: string[];
}

/**
 * One data filter; the data stage applies a list of them in order and reports each. A filter returns the posts it
 * keeps and the outputs it allows; `applyFilters` ranks the allowed outputs by their count on the train split
 * again, so one that no training post carries any more is gone too.
 */
export interface DataFilter<B extends Labeled = Labeled> {
  readonly name: string;
  /** What to change when this filter removes too much (named in the report and in a too-small run's error). */
  readonly remedy?: string;
  apply<T extends B>(state: FilterState<T>): FilterState<T> & { note?: string };
}

/** The train split's hashtags, most frequent first (ties by name): the popularity ranking and the outputs. */
export function trainHashtags(train: readonly Labeled[]): { hashtag: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const post of train) for (const h of new Set(post.labels)) counts.set(h, (counts.get(h) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([hashtag, count]) => ({ hashtag, count }));
}

/** Every split's posts through `keep`. */
export const filterSplits = <T>(splits: Splits<T>, keep: (post: T, split: keyof Splits<T>) => boolean) =>
  Object.fromEntries(SPLIT_NAMES.map((s) => [s, splits[s].filter((p) => keep(p, s))])) as Splits<T>;

/**
 * Rewrites every post's labels (an alias map, a blocklist); a post left without a label is dropped from whichever
 * split it is in, as the labels stage drops unlabeled posts: it has nothing to learn or to score.
 */
export function relabel<T extends Labeled>(
  splits: Splits<T>,
  map: (label: string) => string | null,
): Splits<T> {
  const out = { train: [], val: [], test: [] } as Splits<T>;
  for (const s of SPLIT_NAMES)
    for (const post of splits[s]) {
      const labels = [...new Set(post.labels.flatMap((l) => map(l) ?? []))];
      if (labels.length) out[s].push({ ...post, labels });
    }
  return out;
}

/** Outputs are the hashtags at least `n` training posts carry: counted on train only, so held-out posts do not
 * choose the vocabulary. */
export const minTagCount = (n: number, origin = ""): DataFilter => ({
  name: "min-tag-count",
  remedy: "lower LXTAG_TRAIN_MIN_TAG_COUNT",
  apply(state) {
    const keep = new Set(
      trainHashtags(state.splits.train)
        .filter((h) => h.count >= n)
        .map((h) => h.hashtag),
    );
    return {
      ...state,
      hashtags: state.hashtags.filter((h) => keep.has(h)),
      note: `at least ${n} train posts${origin}`,
    };
  },
});

/** At most `n` outputs, the most frequent. */
export const maxHashtags = (n: number, origin = ""): DataFilter => ({
  name: "max-hashtags",
  remedy: "raise LXTAG_TRAIN_MAX_HASHTAGS",
  apply: (state) => ({
    ...state,
    hashtags: state.hashtags.slice(0, n),
    note: `the ${n} most frequent${origin}`,
  }),
});

const total = <T>(splits: Splits<T>) => SPLIT_NAMES.reduce((n, s) => n + splits[s].length, 0);

/** Applies `filters` in order to split posts; returns what is left, the outputs, and each filter's step. */
export function applyFilters<T extends B, B extends Labeled>(
  splits: Splits<T>,
  filters: readonly DataFilter<B>[],
): FilterState<T> & { steps: FilterStep[] } {
  let state: FilterState<T> = { splits, hashtags: trainHashtags(splits.train).map((h) => h.hashtag) };
  const steps: FilterStep[] = [];
  for (const filter of filters) {
    const { note, ...next } = filter.apply(state);
    const allowed = new Set(next.hashtags);
    const hashtags = trainHashtags(next.splits.train)
      .map((h) => h.hashtag)
      .filter((h) => allowed.has(h));
    steps.push({
      filter: filter.name,
      in: total(state.splits),
      out: total(state.splits) - total(next.splits),
      hashtagsIn: state.hashtags.length,
      hashtagsOut: state.hashtags.length - hashtags.length,
      ...(note ? { note } : {}),
      kept: splitSizes(next.splits),
      ...(filter.remedy ? { remedy: filter.remedy } : {}),
    });
    state = { splits: next.splits, hashtags };
  }
  return { ...state, steps };
}

const sizesText = (s: SplitSizes) => `train ${s.train}, val ${s.val}, test ${s.test}`;
const describeStep = (s: FilterStep) => (s.note ? `${s.filter} (${s.note})` : s.filter);

/** Why the data is too small: the step that made it so and what to change, or the posts there were to start with. */
function cause(step: FilterStep | null, before: SplitSizes | null): string {
  if (step)
    return (
      `; the filter ${describeStep(step)} removed ${step.out} of ${step.in} posts` +
      (step.hashtagsOut ? ` and ${step.hashtagsOut} of ${step.hashtagsIn} hashtags` : "") +
      (step.kept ? ` (${sizesText(step.kept)} left)` : "") +
      (step.remedy ? `; ${step.remedy}` : "")
    );
  if (before)
    return (
      `; only ${before.train + before.val + before.test} labeled posts reached the filters ` +
      `(${sizesText(before)}): label more posts, or lower LXTAG_TRAIN_MIN_POSTS`
    );
  return "";
}

/**
 * The data left is too small to train and test a model on. The message names the data-preparation step that
 * brought it below the minimum and what to change, or, when the labeled posts were too few to start with, says so.
 */
export class TrainingDataTooSmallError extends Error {
  override name = "TrainingDataTooSmallError";
  constructor(
    readonly posts: number,
    readonly splits: SplitSizes,
    readonly hashtags: number,
    readonly needed: number,
    /** The step after which the data was too small; null: not one step (see `before`). */
    readonly step: FilterStep | null = null,
    /** Set when the labeled posts were too few before any filter: what the data preparation started from. */
    readonly before: SplitSizes | null = null,
  ) {
    super(
      `too little data to train: ${posts} posts after the filters (${sizesText(splits)}) and ${hashtags} ` +
        `hashtags; a run needs at least ${needed} posts, a post in each split and a hashtag${cause(step, before)}`,
    );
  }
}

const enough = (s: SplitSizes, hashtags: number, minPosts: number) =>
  s.train + s.val + s.test >= minPosts && s.train > 0 && s.val > 0 && s.test > 0 && hashtags > 0;

/**
 * Throws `TrainingDataTooSmallError` unless the filtered data has `minPosts` posts, a post in every split and an
 * output; the error names the first data-preparation step after which that no longer held.
 */
export function assertEnoughData(report: FilterReport, minPosts: number): void {
  if (enough(report.kept, report.hashtags, minPosts)) return;
  const posts = report.kept.train + report.kept.val + report.kept.test;
  const prep = report.steps.filter((s) => s.kept);
  const enoughBefore = enough(report.split, prep[0]?.hashtagsIn ?? report.hashtags, minPosts);
  const culprit = enoughBefore
    ? prep.find((s) => !enough(s.kept!, (s.hashtagsIn ?? 0) - (s.hashtagsOut ?? 0), minPosts))
    : undefined;
  throw new TrainingDataTooSmallError(
    posts,
    report.kept,
    report.hashtags,
    minPosts,
    culprit ?? null,
    enoughBefore ? null : report.split,
  );
}

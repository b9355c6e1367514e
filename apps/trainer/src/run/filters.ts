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

/** What the filters work on: the split posts and the model's outputs (most frequent training hashtag first). */
export interface FilterState<T extends Labeled> {
  splits: Splits<T>;
  hashtags: string[];
}

/** One data filter; the data stage applies a list of them in order and reports each. */
export interface DataFilter {
  readonly name: string;
  apply<T extends Labeled>(state: FilterState<T>): FilterState<T> & { note?: string };
}

/** The train split's hashtags, most frequent first (ties by name): the popularity ranking and the outputs. */
export function trainHashtags(train: readonly Labeled[]): { hashtag: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const post of train) for (const h of post.labels) counts.set(h, (counts.get(h) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([hashtag, count]) => ({ hashtag, count }));
}

/** Outputs are the hashtags at least `n` training posts carry: counted on train only, so held-out posts do not
 * choose the vocabulary. */
export const minTagCount = (n: number): DataFilter => ({
  name: "min-tag-count",
  apply(state) {
    const keep = new Set(
      trainHashtags(state.splits.train)
        .filter((h) => h.count >= n)
        .map((h) => h.hashtag),
    );
    return {
      ...state,
      hashtags: state.hashtags.filter((h) => keep.has(h)),
      note: `at least ${n} train posts`,
    };
  },
});

/** At most `n` outputs, the most frequent. */
export const maxHashtags = (n: number): DataFilter => ({
  name: "max-hashtags",
  apply: (state) => ({ ...state, hashtags: state.hashtags.slice(0, n), note: `the ${n} most frequent` }),
});

/**
 * Training posts none of whose labels is an output teach only "none of these": dropped. Validation and test posts
 * stay, whatever their labels: recall counts every true hashtag, also those outside the vocabulary.
 */
export const trainPostsWithOutputs: DataFilter = {
  name: "train-posts-with-outputs",
  apply(state) {
    const outputs = new Set(state.hashtags);
    const train = state.splits.train.filter((p) => p.labels.some((l) => outputs.has(l)));
    return { ...state, splits: { ...state.splits, train }, note: "val and test keep every post" };
  },
};

export interface FilterSettings {
  minTagCount: number;
  maxHashtags: number;
}

export const defaultFilters = (s: FilterSettings): DataFilter[] => [
  minTagCount(s.minTagCount),
  maxHashtags(s.maxHashtags),
  trainPostsWithOutputs,
];

const total = <T>(splits: Splits<T>) => SPLIT_NAMES.reduce((n, s) => n + splits[s].length, 0);

/** Applies `filters` in order to split posts; returns what is left, the outputs, and each filter's step. */
export function applyFilters<T extends Labeled>(
  splits: Splits<T>,
  filters: readonly DataFilter[],
): FilterState<T> & { steps: FilterStep[] } {
  let state: FilterState<T> = { splits, hashtags: trainHashtags(splits.train).map((h) => h.hashtag) };
  const steps: FilterStep[] = [];
  for (const filter of filters) {
    const { note, ...next } = filter.apply(state);
    const step: FilterStep = {
      filter: filter.name,
      in: total(state.splits),
      out: total(state.splits) - total(next.splits),
      hashtagsIn: state.hashtags.length,
      hashtagsOut: state.hashtags.length - next.hashtags.length,
    };
    steps.push(note ? { ...step, note } : step);
    state = next;
  }
  return { ...state, steps };
}

/** The data left is too small to train and test a model on. */
export class TrainingDataTooSmallError extends Error {
  override name = "TrainingDataTooSmallError";
  constructor(
    readonly posts: number,
    readonly splits: { train: number; val: number; test: number },
    readonly hashtags: number,
    readonly needed: number,
  ) {
    super(
      `too little data to train: ${posts} posts after the filters (train ${splits.train}, val ${splits.val}, ` +
        `test ${splits.test}) and ${hashtags} hashtags; a run needs at least ${needed} posts, ` +
        "a post in each split and a hashtag",
    );
  }
}

export function assertEnoughData<T>(splits: Splits<T>, hashtags: readonly string[], minPosts: number): void {
  const sizes = splitSizes(splits);
  const posts = total(splits);
  if (posts < minPosts || !sizes.train || !sizes.val || !sizes.test || !hashtags.length)
    throw new TrainingDataTooSmallError(posts, sizes, hashtags.length, minPosts);
}

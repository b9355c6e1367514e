import { type DataFilter, filterSplits, type Labeled } from "../filters.js";

const WORD = /[\p{L}\p{M}\p{N}_]+/gu;

/** Words of a text: runs of letters, marks, digits and `_` (emoji and punctuation are not words). */
export const wordCount = (text: string) => text.match(WORD)?.length ?? 0;

/**
 * Posts whose model text has fewer than `n` words are removed, in every split (the paper: 5): the input is the same
 * whether a post trains or tests.
 */
export const minWords = (n: number, origin = ""): DataFilter<Labeled & { text: string }> => ({
  name: "min-words",
  remedy: "lower LXTAG_TRAIN_MIN_WORDS",
  apply: (state) => ({
    ...state,
    splits: filterSplits(state.splits, (p) => wordCount(p.text) >= n),
    note: `model text with at least ${n} word${n === 1 ? "" : "s"}${origin}`,
  }),
});

import { type DataFilter, filterSplits } from "../filters.js";

/**
 * Posts with fewer than `n` output hashtags are removed (the paper: 5), from the train split only or from every
 * split. With `n` = 1 on train only, a training post that would teach only "none of these" goes, while validation
 * and test keep every post: recall counts every true hashtag, also those outside the outputs.
 */
export const minPostHashtags = (n: number, splits: "train" | "all", origin = ""): DataFilter => ({
  name: "min-post-hashtags",
  remedy: "lower LXTAG_TRAIN_MIN_POST_HASHTAGS",
  apply(state) {
    const outputs = new Set(state.hashtags);
    const enough = (labels: readonly string[]) => labels.filter((l) => outputs.has(l)).length >= n;
    return {
      ...state,
      splits: filterSplits(
        state.splits,
        (p, split) => (splits === "train" && split !== "train") || enough(p.labels),
      ),
      note:
        `at least ${n} output hashtag${n === 1 ? "" : "s"} per post, ` +
        `${splits === "train" ? "train split only (val and test keep every post)" : "every split"}${origin}`,
    };
  },
});

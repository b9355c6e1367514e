import { describe, expect, it } from "vitest";
import { minPostHashtags } from "./data-prep/min-post-hashtags.js";
import type { Evaluation } from "./evaluate.js";
import {
  applyFilters,
  assertEnoughData,
  maxHashtags,
  minTagCount,
  TrainingDataTooSmallError,
} from "./filters.js";
import { decide } from "./gate.js";
import { splitSizes } from "./split.js";

const post = (id: string, ...labels: string[]) => ({ id, labels });

describe("data filters", () => {
  it("choose outputs by their count on the train split only, drop train posts without one, keep val and test", () => {
    const splits = {
      train: [post("t1", "a", "b"), post("t2", "a"), post("t3", "c"), post("t4", "b", "a")],
      // "c" twice in val and test: held-out posts never make a hashtag an output
      val: [post("v1", "c"), post("v2", "c")],
      test: [post("s1", "c", "z"), post("s2", "a")],
    };
    const r = applyFilters(splits, [minTagCount(2), maxHashtags(1), minPostHashtags(1, "train")]);
    expect(r.hashtags).toEqual(["a"]);
    expect(r.splits.train.map((p) => p.id)).toEqual(["t1", "t2", "t4"]);
    expect(r.splits.val).toHaveLength(2);
    expect(r.splits.test).toHaveLength(2);
    expect(r.steps).toEqual([
      {
        filter: "min-tag-count",
        in: 8,
        out: 0,
        hashtagsIn: 3,
        hashtagsOut: 1,
        note: "at least 2 train posts",
        kept: { train: 4, val: 2, test: 2 },
        remedy: "lower LXTAG_TRAIN_MIN_TAG_COUNT",
      },
      {
        filter: "max-hashtags",
        in: 8,
        out: 0,
        hashtagsIn: 2,
        hashtagsOut: 1,
        note: "the 1 most frequent",
        kept: { train: 4, val: 2, test: 2 },
        remedy: "raise LXTAG_TRAIN_MAX_HASHTAGS",
      },
      {
        filter: "min-post-hashtags",
        in: 8,
        out: 1,
        hashtagsIn: 1,
        hashtagsOut: 0,
        note: "at least 1 output hashtag per post, train split only (val and test keep every post)",
        kept: { train: 3, val: 2, test: 2 },
        remedy: "lower LXTAG_TRAIN_MIN_POST_HASHTAGS",
      },
    ]);
  });

  it("drop an output no training post carries any more", () => {
    const splits = { train: [post("t1", "a", "b"), post("t2", "a")], val: [], test: [] };
    const r = applyFilters(splits, [minPostHashtags(2, "all")]);
    expect(r.splits.train.map((p) => p.id)).toEqual(["t1"]);
    expect(r.hashtags).toEqual(["a", "b"]);
    const gone = applyFilters(splits, [minPostHashtags(3, "all")]);
    expect(gone.hashtags).toEqual([]);
    expect(gone.steps[0]).toMatchObject({ out: 2, hashtagsOut: 2 });
  });

  it("refuse too little data, naming the counts", () => {
    const splits = { train: [post("t", "a")], val: [post("v", "a")], test: [] };
    const r = applyFilters(splits, [minTagCount(1)]);
    const report = { steps: r.steps, split: splitSizes(splits), kept: splitSizes(r.splits), hashtags: 1 };
    expect(() => assertEnoughData(report, 50)).toThrow(
      "too little data to train: 2 posts after the filters (train 1, val 1, test 0) and 1 hashtags; " +
        "a run needs at least 50 posts, a post in each split and a hashtag; only 2 labeled posts reached the " +
        "filters (train 1, val 1, test 0): label more posts, or lower LXTAG_TRAIN_MIN_POSTS",
    );
    expect(() => assertEnoughData(report, 50)).toThrow(TrainingDataTooSmallError);
  });
});

describe("gate", () => {
  const scores = (f1: number) => ({ "2": { f1 } }) as unknown as Evaluation["candidate"]["metrics"];
  const evaluation = (candidate: number, active: number | null) =>
    ({
      posts: 10,
      candidate: { id: "new", metrics: scores(candidate) },
      active: active === null ? null : { id: "old", metrics: scores(active) },
    }) as Evaluation;

  it("promotes when no model is active, or when the candidate beats the active model by more than the margin", () => {
    expect(decide(evaluation(0.1, null), { k: 2, margin: 0 })).toMatchObject({ promote: true, active: null });
    expect(decide(evaluation(0.5, 0.4), { k: 2, margin: 0 }).promote).toBe(true);
    expect(decide(evaluation(0.5, 0.5), { k: 2, margin: 0 }).promote).toBe(false);
    const kept = decide(evaluation(0.5, 0.4), { k: 2, margin: 0.2 });
    expect(kept).toMatchObject({
      promote: false,
      candidate: { id: "new", f1: 0.5 },
      active: { id: "old", f1: 0.4 },
    });
    expect(kept.reason).toBe(
      "candidate F1@2 0.5000 does not beat the active model's 0.4000 by more than 0.2 on the same 10 test posts",
    );
  });

  it("says when the active model was refused by a predict worker, and what it compared with instead", () => {
    expect(decide(evaluation(0.1, null), { k: 2, margin: 0 }, "broken")).toEqual({
      promote: true,
      reason: "a predict worker refused the active model broken; no version serves in its place",
      k: 2,
      margin: 0,
      candidate: { id: "new", f1: 0.1 },
      active: null,
    });
    const kept = decide(evaluation(0.5, 0.4), { k: 2, margin: 0.2 }, "broken");
    expect(kept).toMatchObject({ promote: false, active: { id: "old", f1: 0.4 } });
    expect(kept.reason).toBe(
      "a predict worker refused the active model broken; candidate F1@2 0.5000 does not beat old's, the version " +
        "served in its place, 0.4000 by more than 0.2 on the same 10 test posts",
    );
  });
});

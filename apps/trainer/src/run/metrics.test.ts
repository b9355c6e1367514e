import { describe, expect, it } from "vitest";
import { rankingMetrics } from "./metrics.js";

describe("rankingMetrics (CONTRACTS.md 6)", () => {
  it("computes micro and macro P/R/F1/accuracy at k on a hand-computed example", () => {
    const ranked = [
      ["a", "b", "c"],
      ["b", "a", "d"],
      ["c", "d", "e"],
    ];
    // post 2's "z" is outside every model's vocabulary: it still counts in recall
    const truth = [["a"], ["a", "z"], ["x", "y"]];
    const m = rankingMetrics(ranked, truth, [1, 2]);
    // k = 1: TP = 1 + 0 + 0 = 1; P = 1 / (1 * 3); R = 1 / 5; accuracy = 1 / 3
    // macro P = (1 + 0 + 0) / 3; macro R = (1/1 + 0/2 + 0/2) / 3
    expect(m["1"]!.precision).toBeCloseTo(1 / 3, 12);
    expect(m["1"]!.recall).toBeCloseTo(1 / 5, 12);
    expect(m["1"]!.f1).toBeCloseTo((2 * (1 / 3) * (1 / 5)) / (1 / 3 + 1 / 5), 12); // 0.25
    expect(m["1"]!.accuracy).toBeCloseTo(1 / 3, 12);
    expect(m["1"]!.macro_precision).toBeCloseTo(1 / 3, 12);
    expect(m["1"]!.macro_recall).toBeCloseTo(1 / 3, 12);
    expect(m["1"]!.macro_f1).toBeCloseTo(1 / 3, 12);
    // k = 2: TP = 1 + 1 + 0 = 2; P = 2 / 6; R = 2 / 5; accuracy = 2 / 3
    // macro P = (1/2 + 1/2 + 0) / 3 = 1/3; macro R = (1 + 1/2 + 0) / 3 = 1/2
    expect(m["2"]!.precision).toBeCloseTo(1 / 3, 12);
    expect(m["2"]!.recall).toBeCloseTo(2 / 5, 12);
    expect(m["2"]!.f1).toBeCloseTo((2 * (1 / 3) * (2 / 5)) / (1 / 3 + 2 / 5), 12); // 0.3636...
    expect(m["2"]!.accuracy).toBeCloseTo(2 / 3, 12);
    expect(m["2"]!.macro_precision).toBeCloseTo(1 / 3, 12);
    expect(m["2"]!.macro_recall).toBeCloseTo(1 / 2, 12);
    expect(m["2"]!.macro_f1).toBeCloseTo(0.4, 12);
  });

  it("divides by k when a model ranks fewer hashtags, and skips unlabeled posts only in macro recall", () => {
    const m = rankingMetrics([["a"], ["a"]], [["a"], []], [3]);
    expect(m["3"]!.precision).toBeCloseTo(1 / 6, 12); // TP 1 over 3 * 2 posts
    expect(m["3"]!.recall).toBe(1);
    expect(m["3"]!.accuracy).toBe(0.5);
    expect(m["3"]!.macro_recall).toBe(1); // the unlabeled post has no recall
  });

  it("refuses rankings that do not match the posts", () => {
    expect(() => rankingMetrics([["a"]], [])).toThrow("1 rankings for 0 posts");
  });
});

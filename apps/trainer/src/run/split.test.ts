import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { splitExamples, splitOf } from "./split.js";

describe("split", () => {
  it("assigns 8:1:1 by a hash: the same split for a post in every run, in any order", () => {
    const posts = Array.from({ length: 20_000 }, () => ({ id: randomUUID(), imageSha256: null }));
    const first = splitExamples(posts);
    const again = splitExamples([...posts].reverse());
    for (const name of ["train", "val", "test"] as const)
      expect(new Set(again[name].map((p) => p.id))).toEqual(new Set(first[name].map((p) => p.id)));
    const share = (n: number) => n / posts.length;
    expect(share(first.train.length)).toBeCloseTo(0.8, 1);
    expect(share(first.val.length)).toBeCloseTo(0.1, 1);
    expect(share(first.test.length)).toBeCloseTo(0.1, 1);
    // pinned: a changed rule would move posts an active model trained on into the test split
    const pinned = ["post-7", "post-8", "post-20", "post-21"].map((id) => splitOf({ id, imageSha256: null }));
    expect(pinned).toEqual(["train", "test", "val", "test"]);
    // an image's hash decides, not the post's id
    expect(splitOf({ id: "post-8", imageSha256: "post-20" })).toBe("val");
  });

  it("keeps posts sharing an image in one split, whatever their ids", () => {
    const images = Array.from(
      { length: 300 },
      (_, i) => `${i.toString(16).padStart(4, "0")}${"ab".repeat(30)}`,
    );
    const posts = images.flatMap((sha) =>
      Array.from({ length: 4 }, () => ({ id: randomUUID(), imageSha256: sha })),
    );
    const splits = splitExamples(posts);
    const where = new Map<string, Set<string>>();
    for (const name of ["train", "val", "test"] as const)
      for (const p of splits[name])
        where.set(p.imageSha256, (where.get(p.imageSha256) ?? new Set()).add(name));
    expect([...where.values()].every((s) => s.size === 1)).toBe(true);
    // and the images still spread over all three splits
    expect(splits.val.length).toBeGreaterThan(0);
    expect(splits.test.length).toBeGreaterThan(0);
    expect(splits.train.length).toBeGreaterThan(splits.val.length + splits.test.length);
  });
});

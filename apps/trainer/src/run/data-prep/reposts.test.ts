import { describe, expect, it } from "vitest";
import { applyFilters } from "../filters.js";
import { normalizedCaption, type Repostable, removeReposts } from "./reposts.js";

const at = (day: number) => new Date(Date.UTC(2024, 0, day));
const post = (
  id: string,
  text: string,
  image: string | null,
  day: number,
  labels = ["sunset"],
): Repostable => ({
  id,
  text,
  imageSha256: image,
  takenAt: at(day),
  createdAt: at(30),
  labels,
});

describe("re-post removal", () => {
  const splits = {
    train: [
      post("late", "Golden hour in Brooklyn", "img-a", 5),
      post("first", "Golden hour in Brooklyn 📸", "img-a", 1),
      post("caption-copy", "golden   HOUR in brooklyn 📸", "img-b", 3),
      post("other", "Morning espresso at the cafe", "img-c", 2, ["coffee"]),
      post("no-words-1", "", "img-d", 2, ["coffee"]),
    ],
    val: [post("no-words-2", "", "img-e", 4, ["coffee"])],
    test: [post("test-copy", "Morning espresso at the cafe", "img-f", 9, ["coffee"])],
  };
  const ids = (s: typeof splits) => Object.values(s).flatMap((x) => x.map((p) => p.id));

  it("normalizes a caption: lower case, whitespace collapsed", () => {
    expect(normalizedCaption("  Golden   HOUR\nin Brooklyn ")).toBe("golden hour in brooklyn");
  });

  it("removes posts sharing an image or a normalized caption with an earlier one, across splits", () => {
    const r = applyFilters(splits, [removeReposts("image-or-caption")]);
    expect(ids(r.splits)).toEqual(["first", "other", "no-words-1", "no-words-2"]);
    expect(r.steps[0]).toMatchObject({
      filter: "reposts",
      in: 7,
      out: 3,
      kept: { train: 3, val: 1, test: 0 },
    });
  });

  it("by image only, or by caption only, as the mode says", () => {
    // the earliest of img-a stays; caption copies on other images stay
    expect(ids(applyFilters(splits, [removeReposts("image")]).splits)).toEqual([
      "first",
      "caption-copy",
      "other",
      "no-words-1",
      "no-words-2",
      "test-copy",
    ]);
    // "late" lacks the emoji of "first": another text, so by caption it stays
    expect(ids(applyFilters(splits, [removeReposts("caption")]).splits)).toEqual([
      "late",
      "first",
      "other",
      "no-words-1",
      "no-words-2",
    ]);
    expect(ids(applyFilters(splits, [removeReposts("off")]).splits)).toHaveLength(7);
  });

  it("keeps the earliest by publication time, else by when lxtag stored it", () => {
    const undated = { ...post("stored-first", "Same words here", null, 0), takenAt: null, createdAt: at(1) };
    const dated = post("published-later", "Same words here", null, 2);
    const r = applyFilters({ train: [dated, undated], val: [], test: [] }, [removeReposts("caption")]);
    expect(r.splits.train.map((p) => p.id)).toEqual(["stored-first"]);
  });
});

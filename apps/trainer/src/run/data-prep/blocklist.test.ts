import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { applyFilters } from "../filters.js";
import { blocklist, CITY_BLOCKLIST_PATH, loadBlocklist } from "./blocklist.js";

const post = (id: string, ...labels: string[]) => ({ id, labels });

describe("blocklist", () => {
  it("ships a city list with the common spellings, and no ambiguous words", async () => {
    const cities = await loadBlocklist([CITY_BLOCKLIST_PATH]);
    expect(cities.size).toBeGreaterThan(250);
    for (const h of [
      "nyc",
      "newyork",
      "newyorkcity",
      "london",
      "paris",
      "tokyo",
      "münchen",
      "東京",
      "saopaulo",
    ])
      expect(cities).toContain(h);
    for (const h of ["nice", "la", "sunset", "love"]) expect(cities).not.toContain(h);
  });

  it("a user file extends it", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "lxtag-block-")), "mine.txt");
    await writeFile(path, "# my town\n#Springfield, shelbyville\n");
    const both = await loadBlocklist([CITY_BLOCKLIST_PATH, path]);
    expect(both).toContain("springfield");
    expect(both).toContain("shelbyville");
    expect(both).toContain("nyc");
  });

  it("removes blocked hashtags from every post's labels before counting; a post left without one goes", () => {
    const splits = {
      train: [post("t1", "nyc", "sunset"), post("t2", "nyc"), post("t3", "sunset", "brooklyn")],
      val: [post("v1", "newyork")],
      test: [post("s1", "nyc", "sunset")],
    };
    const r = applyFilters(splits, [blocklist(new Set(["nyc", "newyork", "brooklyn"]), "3 hashtags")]);
    expect(r.splits.train.map((p) => p.labels)).toEqual([["sunset"], ["sunset"]]);
    expect(r.splits.val).toEqual([]);
    expect(r.splits.test.map((p) => p.labels)).toEqual([["sunset"]]);
    expect(r.hashtags).toEqual(["sunset"]);
    expect(r.steps[0]).toMatchObject({ filter: "blocklist", in: 5, out: 2, hashtagsIn: 3, hashtagsOut: 2 });
  });
});

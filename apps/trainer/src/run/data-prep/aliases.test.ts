import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { applyFilters } from "../filters.js";
import { aliases, loadAliasFile, pluralAliases } from "./aliases.js";
import { DataListFileError } from "./list-file-error.js";

const post = (id: string, ...labels: string[]) => ({ id, labels });
const file = async (text: string) => {
  const path = join(await mkdtemp(join(tmpdir(), "lxtag-aliases-")), "aliases.txt");
  await writeFile(path, text);
  return path;
};

describe("alias map", () => {
  it("merges a plural s into its singular only when both occur", () => {
    expect(
      pluralAliases(["dog", "dogs", "cats", "flowers", "flower", "news", "new", "glass", "glas", "us", "u"]),
    ).toEqual(
      new Map([
        ["dogs", "dog"],
        ["flowers", "flower"],
      ]),
    );
  });

  it("decides on the train split and rewrites every split; a post's merged labels count once", () => {
    const splits = {
      train: [post("t1", "dog", "park"), post("t2", "dogs"), post("t3", "sunsets")],
      // "sunset" only here: held-out posts do not make a merge
      val: [post("v1", "dogs", "dog"), post("v2", "sunset")],
      test: [post("s1", "dogs", "sunsets")],
    };
    const r = applyFilters(splits, [aliases(new Map(), true)]);
    expect(r.splits.train.map((p) => p.labels)).toEqual([["dog", "park"], ["dog"], ["sunsets"]]);
    expect(r.splits.val.map((p) => p.labels)).toEqual([["dog"], ["sunset"]]);
    expect(r.splits.test.map((p) => p.labels)).toEqual([["dog", "sunsets"]]);
    expect(r.hashtags).toEqual(["dog", "park", "sunsets"]);
    expect(r.steps[0]).toMatchObject({ filter: "aliases", in: 6, out: 0, hashtagsIn: 4, hashtagsOut: 1 });
    expect(r.steps[0]!.note).toContain("merged: dogs->dog");
    // off: nothing merges
    expect(applyFilters(splits, [aliases(new Map(), false)]).hashtags).toHaveLength(4);
  });

  it("reads a user file of variant,canonical lines, following chains, before the plural rule", async () => {
    const path = await file(
      "# spelling variants\nnyc, newyork\n#NewYorkCity,nyc\n\ncolour,color  # British\n",
    );
    const map = await loadAliasFile(path);
    expect(map).toEqual(
      new Map([
        ["nyc", "newyork"],
        ["newyorkcity", "newyork"],
        ["colour", "color"],
      ]),
    );
    const splits = { train: [post("t1", "nyc", "colours"), post("t2", "color")], val: [], test: [] };
    const r = applyFilters(splits, [aliases(map, true)]);
    // the user map rewrites whole labels: "colours" is not "colour", and the plural rule needs "colour" itself
    expect(r.splits.train.map((p) => p.labels)).toEqual([["newyork", "colours"], ["color"]]);
  });

  it("refuses a line that is not a pair, a variant with two canonicals, and a cycle, naming the line", async () => {
    await expect(loadAliasFile(await file("a,b,c\n"))).rejects.toThrow(
      /aliases\.txt:1: expected variant,canonical/,
    );
    await expect(loadAliasFile(await file("a,b\na,c\n"))).rejects.toThrow(/:2: a is an alias of b on line 1/);
    await expect(loadAliasFile(await file("a,b\nb,a\n"))).rejects.toThrow(/alias cycle a -> b -> a/);
    await expect(loadAliasFile(await file("a b,c\n"))).rejects.toBeInstanceOf(DataListFileError);
    await expect(loadAliasFile("/nonexistent/aliases.txt")).rejects.toThrow(
      /\/nonexistent\/aliases\.txt: ENOENT/,
    );
  });
});

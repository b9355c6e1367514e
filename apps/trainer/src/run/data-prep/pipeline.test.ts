import { extractHashtags } from "@lxtag/text";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../config.js";
import { applyFilters, assertEnoughData, type FilterReport, TrainingDataTooSmallError } from "../filters.js";
import { type Example, postTexts } from "../labels.js";
import { trainingSettings } from "../settings.js";
import { type Splits, splitSizes } from "../split.js";
import { type DataPrepSettings, dataPrepFilters } from "./pipeline.js";

const at = (day: number) => new Date(Date.UTC(2024, 0, 1) + day * 86_400_000);
const example = (id: string, caption: string, image: string | null = `img-${id}`, day = 0): Example => ({
  id,
  ...postTexts(caption),
  imageSha256: image,
  takenAt: at(day),
  createdAt: at(400),
  labels: extractHashtags(caption),
});

/** Splits as the run gives them: every tenth post to val, the next to test. */
const split = (posts: Example[]): Splits<Example> => ({
  train: posts.filter((_, i) => i % 10 < 8),
  val: posts.filter((_, i) => i % 10 === 8),
  test: posts.filter((_, i) => i % 10 === 9),
});

const ids = (s: Splits<Example>) => [...s.train, ...s.val, ...s.test].map((p) => p.id).sort();

async function prepare(
  posts: Example[],
  settings: Partial<DataPrepSettings> & Pick<DataPrepSettings, "dataPreset">,
) {
  const splits = split(posts);
  const r = applyFilters(splits, await dataPrepFilters({ blocklistFiles: [], ...settings }));
  const report: FilterReport = {
    steps: r.steps,
    split: splitSizes(splits),
    kept: splitSizes(r.splits),
    hashtags: r.hashtags.length,
    preset: settings.dataPreset,
  };
  return { ...r, report, step: (name: string) => r.steps.find((s) => s.filter === name)! };
}

// a typical export: one to three hashtags a post, tag blocks at the end, a few re-posts
const SCENES = [
  ["Golden hour over the East River tonight", ["sunset", "nyc"]],
  ["Morning espresso at our favourite corner cafe", ["coffee", "coffees"]],
  ["Long walk with the dog in the park", ["dog", "dogs", "park"]],
  ["Skyline lights after a rainy day downtown", ["city", "nyc", "night"]],
] as const;
const typical = (n: number) =>
  Array.from({ length: n }, (_, i) => {
    const [words, tags] = SCENES[i % SCENES.length]!;
    const some = tags.slice(0, 1 + (i % tags.length));
    return example(
      `p${String(i).padStart(3, "0")}`,
      `${words} ${i} ✨\n.\n${some.map((t) => `#${t}`).join(" ")}`,
    );
  });

describe("data preparation", () => {
  it("lists every step of the default preset in order, each with its counts and where its value came from", async () => {
    const posts = [
      ...typical(40),
      example("short", "Yes! #sunset #nyc"),
      example("empty", "#sunset #nyc"),
      // the caption of p000 again on another image, a month later: a re-post
      example("repost", "Golden hour over the East River tonight 0 ✨\n#sunset", "img-other", 30),
    ];
    const r = await prepare(posts, { dataPreset: "default" });
    expect(r.steps.map((s) => s.filter)).toEqual([
      "min-words",
      "reposts",
      "aliases",
      "blocklist",
      "min-tag-count",
      "max-hashtags",
      "min-post-hashtags",
    ]);
    // no words at all: gone in the default preset; one word stays
    expect(r.step("min-words")).toMatchObject({
      out: 1,
      note: "model text with at least 1 word, preset default",
    });
    expect(ids(r.splits)).not.toContain("empty");
    expect(ids(r.splits)).toContain("short");
    expect(r.step("reposts")).toMatchObject({ out: 1 });
    expect(ids(r.splits)).not.toContain("repost");
    // coffees and dogs merge into their singular; nyc stays (no city blocklist by default)
    expect(r.step("aliases").note).toContain("merged: coffees->coffee, dogs->dog");
    expect(r.hashtags).toContain("nyc");
    expect(r.hashtags).not.toContain("dogs");
    expect(r.step("blocklist")).toMatchObject({ out: 0, hashtagsOut: 0 });
    expect(r.step("min-post-hashtags").note).toBe(
      "at least 1 output hashtag per post, train split only (val and test keep every post), preset default",
    );
    expect(r.step("min-post-hashtags").remedy).toBe("lower LXTAG_TRAIN_MIN_POST_HASHTAGS");
    expect(r.steps.every((s) => s.kept)).toBe(true);
  });

  it("runs the paper's preparation with the paper preset: 5 words, city names blocked, 5 hashtags on every split", async () => {
    const rich = (i: number) =>
      example(
        `r${i}`,
        `A quiet golden sunset over the bay ${i}\n#sunset #ocean #beach #nyc #golden #sky #clouds`,
      );
    const posts = [
      ...Array.from({ length: 30 }, (_, i) => rich(i)),
      ...typical(20),
      example("short", "Sunset #a #b #c #d #e"),
    ];
    const r = await prepare(posts, { dataPreset: "paper" });
    expect(r.step("min-words")).toMatchObject({
      out: 1,
      note: "model text with at least 5 words, preset paper",
    });
    expect(r.step("blocklist").note).toMatch(/^\d+ hashtags: shipped city list on, preset paper$/);
    expect(r.hashtags).not.toContain("nyc");
    expect(r.step("max-hashtags").note).toBe("the 500 most frequent, preset paper");
    // typical posts have one to three hashtags: all gone, from every split
    expect(ids(r.splits).every((id) => id.startsWith("r"))).toBe(true);
    expect(r.step("min-post-hashtags")).toMatchObject({
      out: 20,
      note: "at least 5 output hashtags per post, every split, preset paper",
      remedy: "lower LXTAG_TRAIN_MIN_POST_HASHTAGS or use LXTAG_TRAIN_PRESET_DATA=default",
    });
    expect(r.splits.train.every((p) => p.labels.length === 6)).toBe(true);
  });

  it("lets each setting override its preset value", async () => {
    const r = await prepare(typical(20), { dataPreset: "paper", minPostHashtags: 1, blockCities: false });
    expect(r.step("min-post-hashtags")).toMatchObject({
      out: 0,
      note: "at least 1 output hashtag per post, every split, LXTAG_TRAIN_MIN_POST_HASHTAGS set",
      remedy: "lower LXTAG_TRAIN_MIN_POST_HASHTAGS",
    });
    expect(r.hashtags).toContain("nyc");
  });

  it("fails a run the filters left too small, naming the filter, its preset and what to change", async () => {
    const r = await prepare(typical(600), { dataPreset: "paper" });
    const err = (() => {
      try {
        assertEnoughData(r.report, 50);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(TrainingDataTooSmallError);
    expect((err as TrainingDataTooSmallError).step?.filter).toBe("min-post-hashtags");
    expect((err as Error).message).toBe(
      "too little data to train: 0 posts after the filters (train 0, val 0, test 0) and 0 hashtags; a run needs at " +
        "least 50 posts, a post in each split and a hashtag; the filter min-post-hashtags (at least 5 output " +
        "hashtags per post, every split, preset paper) removed 600 of 600 posts and 6 of 6 hashtags " +
        "(train 0, val 0, test 0 left); lower LXTAG_TRAIN_MIN_POST_HASHTAGS or use LXTAG_TRAIN_PRESET_DATA=default",
    );
    // the default preset trains on the same posts
    const d = await prepare(typical(600), { dataPreset: "default" });
    expect(() => assertEnoughData(d.report, 50)).not.toThrow();
  });

  it("says so when the labeled posts were too few before any filter", async () => {
    const r = await prepare(typical(20), { dataPreset: "default" });
    expect(() => assertEnoughData(r.report, 50)).toThrow(
      "; only 20 labeled posts reached the filters (train 16, val 2, test 2): label more posts, or lower " +
        "LXTAG_TRAIN_MIN_POSTS",
    );
  });
});

describe("data-preparation settings", () => {
  it("take the preset from LXTAG_TRAIN_PRESET_DATA and each value from its own variable, empty meaning unset", () => {
    const config = loadConfig({
      LXTAG_TRAIN_PRESET_DATA: "paper",
      LXTAG_TRAIN_MIN_WORDS: "",
      LXTAG_TRAIN_MIN_POST_HASHTAGS: "2",
      LXTAG_TRAIN_BLOCK_CITIES: "false",
      LXTAG_TRAIN_BLOCKLIST: "a.txt, b.txt",
    });
    const s = trainingSettings(config, { dedupReposts: "off" });
    expect(s).toMatchObject({
      dataPreset: "paper",
      minPostHashtags: 2,
      blockCities: false,
      dedupReposts: "off",
      blocklistFiles: ["a.txt", "b.txt"],
    });
    expect(s.minWords).toBeUndefined();
    expect(trainingSettings(loadConfig({})).dataPreset).toBe("default");
    expect(() => loadConfig({ LXTAG_TRAIN_PRESET_DATA: "tiny" })).toThrow(/LXTAG_TRAIN_PRESET_DATA/);
  });
});

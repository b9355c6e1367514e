import { describe, expect, it } from "vitest";
import {
  countJsonItems,
  JSON_KEPT_MAX_CHARS,
  type JsonItemsOptions,
  jsonItems,
  jsonOutline,
  nestsTooDeep,
} from "./json-items.js";

/** A seeded PRNG (mulberry32): the random chunkings and mutations are the same on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

async function* chunked(bytes: Uint8Array, sizes: () => number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; ) {
    const n = Math.max(1, sizes());
    yield bytes.subarray(i, i + n);
    i += n;
  }
}

const OPTS: JsonItemsOptions = { name: "posts_1.json" };
const META: JsonItemsOptions = {
  name: "reels.json",
  wrappers: ["ig_reels_media", "ig_archived_post_media"],
  itemKey: "media",
  expected: "posts",
};

async function items(bytes: Uint8Array, sizes: () => number, options = OPTS) {
  const out: unknown[] = [];
  for await (const item of jsonItems(chunked(bytes, sizes), options)) out.push(item.value);
  return out;
}
const count = (bytes: Uint8Array, sizes: () => number, options = OPTS) =>
  countJsonItems(chunked(bytes, sizes), options);
const utf8 = (text: string) => new TextEncoder().encode(text);

/** Every pitfall of a splitter in one document: split characters, brackets in strings, escapes, nesting. */
const TRICKY = `[
  {"title": "Café ☕ 🌊 日本 [not, an] {array} \\"quoted\\" back\\\\slash \\\\", "n": -12.5e+3,
   "media": [{"uri": "a\\/b.jpg", "t": 1700000000, "tags": [[], {}, [[1, 2], {"x": [true, false, null]}]]}]},
  "a string item, with ] and } and , and \\u00e9\\u00f0\\u009f\\u008c\\u008a",
  0, -0.5, 1E2, true, false, null,
  [ "nested", [ "deeper", { "k" : "]" } ] ],
  {}, [], "",
  {"\\u0041key": "\\ud83c\\udf0a \\b\\f\\n\\r\\t"}
]`;

describe("jsonItems", () => {
  const doc = utf8(TRICKY);
  const expected = JSON.parse(TRICKY) as unknown[];

  it("yields the top-level array's elements at every chunk boundary, and counts them alike", async () => {
    for (let cut = 0; cut <= doc.length; cut++) {
      const sizes = [cut, doc.length];
      let k = 0;
      expect(await items(doc, () => sizes[k++]!)).toEqual(expected);
    }
    expect(await items(doc, () => 1)).toEqual(expected);
    expect(await count(doc, () => 1)).toBe(expected.length);
    for (let seed = 1; seed <= 50; seed++) {
      const r = rng(seed);
      const sizes = () => 1 + Math.floor(r() * 40);
      expect(await items(doc, sizes)).toEqual(expected);
      expect(await count(doc, sizes)).toBe(expected.length);
    }
  });

  it("keeps multi-byte characters whole when a chunk ends inside one", async () => {
    const text = JSON.stringify(["é", "€", "🌊", "日本語", "x🌊y"]);
    const bytes = utf8(text);
    for (let size = 1; size <= 4; size++)
      expect(await items(bytes, () => size)).toEqual(["é", "€", "🌊", "日本語", "x🌊y"]);
  });

  it("reads an empty array, whitespace around everything and a leading BOM", async () => {
    expect(await items(utf8("[]"), () => 1)).toEqual([]);
    expect(await items(utf8(" \r\n\t[ \n ] \n"), () => 1)).toEqual([]);
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('[{"a": 1}]')]);
    expect(await items(bom, () => 1)).toEqual([{ a: 1 }]);
    expect(await items(utf8('\ufeff["x"]'), () => 1000)).toEqual(["x"]);
  });

  it("reads the array under the first wrapper key of a top-level object; null there is no items", async () => {
    const text = JSON.stringify({
      before: { ig_reels_media: ["not this one: not at the top"] },
      ig_reels_media: [{ media: [] }, { media: [{ uri: "r.mp4" }] }],
      ig_archived_post_media: [{ media: "ignored: not the first wrapper" }],
    });
    const bytes = utf8(text);
    for (const size of [1, 3, 1000]) {
      const got: unknown[] = [];
      for await (const item of jsonItems(
        chunked(bytes, () => size),
        META,
      ))
        got.push(item);
      expect(got).toEqual([
        { value: { media: [] }, wrapper: "ig_reels_media" },
        { value: { media: [{ uri: "r.mp4" }] }, wrapper: "ig_reels_media" },
      ]);
      expect(await count(bytes, () => size, META)).toBe(2);
    }
    expect(
      await items(utf8('{"ig_archived_post_media": null, "ig_reels_media": [1]}'), () => 1000, META),
    ).toEqual([]);
  });

  it("outlines a document: its items counted, and the values of its kept keys whole, at every chunk boundary", async () => {
    const BODY: JsonItemsOptions = { name: "body", wrappers: ["posts"], keep: ["options", "s3Keys"] };
    const outline = (text: string, size: number) =>
      jsonOutline(
        chunked(utf8(text), () => size),
        BODY,
      );
    const options = { allowTraining: false, note: 'a "quoted" } ] text', n: [1.5e3, -2, null, true] };
    const posts = [{ caption: "a", options: "not kept: not at the top" }, { caption: "b" }];
    for (const size of [1, 2, 7, 1000]) {
      expect(await outline(JSON.stringify({ options, posts, other: { options: 1 } }), size)).toEqual({
        items: 2,
        wrapper: "posts",
        array: false,
        kept: { options },
      });
      // the kept keys alone: no items, not refused (the caller says what is missing)
      expect(await outline(' {"s3Keys": ["a.zip", "b.zip"], "options": 3} ', size)).toEqual({
        items: 0,
        wrapper: null,
        array: false,
        kept: { s3Keys: ["a.zip", "b.zip"], options: 3 },
      });
      expect(await outline('[{"options": 1}, 2]', size)).toEqual({
        items: 2,
        wrapper: null,
        array: true,
        kept: {},
      });
    }
    const refusal = (text: string) =>
      outline(text, 1000).then(
        () => undefined,
        (err: Error) => err.message,
      );
    expect(await refusal('{"posts": "x"}')).toBe(
      "invalid-posts-file: body: expected an array, found a string",
    );
    expect(await refusal('{"other": []}')).toBe(
      "invalid-posts-file: body: expected an array, found an object",
    );
    expect(await refusal('{"options": {"a": 1}')).toMatch(/^invalid-json: body: unexpected end/);
    // a key the reader uses, repeated: JSON.parse would take the last, a stream the first; refused, with its place
    expect(await refusal('{"posts": [{"caption": "a"}],\n "posts": [{"caption": "b"}]}')).toBe(
      'invalid-posts-file: body: "posts" appears twice at line 2 column 2 (character 31)',
    );
    expect(await refusal('{"options": 1, "posts": [], "options": 2}')).toMatch(/"options" appears twice/);
    // repeated elsewhere (inside an item, or a key the reader ignores), it is the item's or nobody's business
    expect(await outline('{"other": 1, "other": 2, "posts": [{"options": 1, "options": 2}]}', 3)).toEqual({
      items: 1,
      wrapper: "posts",
      array: false,
      kept: {},
    });
    // a kept value is settings, not data: one longer than the bound fails as it is read
    const long = `{"options": "${"x".repeat(JSON_KEPT_MAX_CHARS)}", "posts": []}`;
    for (const size of [1000, 2 ** 20])
      expect(await outline(long, size).catch((err: Error) => err.message)).toBe(
        `invalid-posts-file: body: the value of "options" is longer than ${JSON_KEPT_MAX_CHARS} characters`,
      );
  });

  it("reads a top-level object with the item key as the one item, wherever the key sits", async () => {
    const bare = { title: "bare", nested: { media: 1 }, media: [{ uri: "a.jpg" }], after: [1, { x: "}" }] };
    for (const size of [1, 2, 7]) {
      expect(await items(utf8(JSON.stringify(bare)), () => size, META)).toEqual([bare]);
      expect(await count(utf8(JSON.stringify(bare)), () => size, META)).toBe(1);
    }
  });

  it("yields the first item before the source is read to its end", async () => {
    const posts = Array.from({ length: 1000 }, (_, i) => ({
      title: `post ${i}`,
      media: [{ uri: `${i}.jpg` }],
    }));
    const bytes = utf8(JSON.stringify(posts));
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < bytes.length; i += 1024) {
        pulled++;
        yield bytes.subarray(i, i + 1024);
      }
    }
    const total = Math.ceil(bytes.length / 1024);
    const it = jsonItems(source(), OPTS);
    const first = await it.next();
    expect(first.value?.value).toEqual(posts[0]);
    expect(pulled).toBe(1);
    expect(pulled).toBeLessThan(total);
    await it.return(undefined);
  });

  describe("refusals", () => {
    const refusal = async (text: string, options = OPTS) => {
      const bytes = utf8(text);
      const counted = await count(bytes, () => 3, options).then(
        () => undefined,
        (err: unknown) => err,
      );
      const parsed = await items(bytes, () => 3, options).then(
        () => undefined,
        (err: unknown) => err,
      );
      const whole = await items(bytes, () => bytes.length || 1, options).then(
        () => undefined,
        (err: unknown) => err,
      );
      // the count and the parse refuse alike, in small chunks or in one
      expect(parsed).toEqual(counted);
      expect(whole).toEqual(counted);
      return counted as { code: string; message: string } | undefined;
    };

    it("a document cut short anywhere is invalid-json", async () => {
      for (let cut = 0; cut < TRICKY.length; cut++) {
        const err = await refusal(TRICKY.slice(0, cut));
        expect(err?.code).toBe("invalid-json");
      }
      expect((await refusal('[{"a": "b'))?.message).toBe(
        "invalid-json: posts_1.json: unexpected end of the JSON text (is it cut short?) at line 1 column 10 (character 9)",
      );
      expect((await refusal('["\\u00'))?.message).toMatch(/unexpected end of the JSON text/);
    });

    it("text after the value, and malformed JSON inside an item, are invalid-json with the place", async () => {
      expect((await refusal("[1] x"))?.message).toBe(
        'invalid-json: posts_1.json: unexpected "x" after the end of the JSON value at line 1 column 5 (character 4)',
      );
      expect((await refusal('[\n  {"a": 1},\n  {"a": tru}\n]'))?.message).toBe(
        "invalid-json: posts_1.json: invalid literal (expected true) at line 3 column 9 (character 22)",
      );
      for (const bad of [
        "[1]]",
        "[1][2]",
        "[01]",
        "[1.]",
        "[-]",
        "[1e]",
        "[.5]",
        "[+1]",
        "[1,]",
        "[,1]",
        "[1 2]",
        '[{"a" 1}]',
        '[{"a": 1,}]',
        '[{"a": 1 "b": 2}]',
        "[{a: 1}]",
        "[{'a': 1}]",
        '["\\x"]',
        '["\\u12G4"]',
        '["tab\there"]',
        "[nul]",
        "[True]",
        "[undefined]",
        "[NaN]",
        '[{"a": [1}]',
        '[{"a": 1]]',
        "",
        "   ",
        '"text" x',
        "[1]\u00a0",
      ]) {
        expect(() => JSON.parse(bad), bad).toThrow(SyntaxError);
        expect((await refusal(bad))?.code, bad).toBe("invalid-json");
      }
    });

    it("a value nested deeper than 256 levels is invalid-json, before a recursive walk of the item overflows", async () => {
      const nested = (depth: number) => `[{"title": "t", "x": ${"[".repeat(depth)}${"]".repeat(depth)}}]`;
      expect(await refusal(nested(254))).toBeUndefined(); // the posts array and the item are two levels more
      expect((await refusal(nested(255)))?.message).toBe(
        "invalid-json: posts_1.json: a value nested deeper than 256 levels at line 1 column 276 (character 275)",
      );
      expect((await refusal(nested(100_000)))?.code).toBe("invalid-json");
      // the same rule for a value already parsed (a JSON body's posts)
      const value = (depth: number) => JSON.parse(nested(depth - 2)) as unknown;
      expect([value(256), value(257), value(100_000)].map(nestsTooDeep)).toEqual([false, true, true]);
      expect(nestsTooDeep({ a: [{ b: "text" }], c: null })).toBe(false);
    });

    it("a top level that is not an array (nor a wrapper object, nor a bare item) is invalid-posts-file", async () => {
      const found = async (text: string, options = OPTS) => (await refusal(text, options))?.message;
      expect(await found("42")).toBe("invalid-posts-file: posts_1.json: expected an array, found a number");
      expect(await found('"text"')).toBe(
        "invalid-posts-file: posts_1.json: expected an array, found a string",
      );
      expect(await found("null")).toBe("invalid-posts-file: posts_1.json: expected an array, found null");
      expect(await found("true")).toBe(
        "invalid-posts-file: posts_1.json: expected an array, found a boolean",
      );
      // without wrappers or an item key, no object is read: not a wrapper, not a bare post
      expect(await found('{"ig_reels_media": [], "media": []}')).toBe(
        "invalid-posts-file: posts_1.json: expected an array, found an object",
      );
      expect(await found('{"posts": []}', META)).toBe(
        "invalid-posts-file: reels.json: expected posts, found an object",
      );
      expect(await found('{"ig_reels_media": {"media": []}}', META)).toBe(
        "invalid-posts-file: reels.json: expected posts, found an object",
      );
      expect(await found('{"ig_reels_media": "x"}', META)).toMatch(/found a string$/);
      // a syntax error anywhere comes first, as JSON.parse of the whole file would have it
      expect((await refusal('{"ig_reels_media": {"media": []}} ]', META))?.code).toBe("invalid-json");
      expect((await refusal("42 x"))?.code).toBe("invalid-json");
    });
  });

  it("agrees with JSON.parse on thousands of mutated documents", async () => {
    const r = rng(7);
    const alphabet = [
      '"',
      "\\",
      "[",
      "]",
      "{",
      "}",
      ",",
      ":",
      " ",
      "\n",
      "0",
      "1",
      "-",
      ".",
      "e",
      "u",
      "t",
      "n",
      "\u0001",
      "é",
    ];
    for (let n = 0; n < 3000; n++) {
      const chars = [...TRICKY];
      for (let m = 1 + Math.floor(r() * 2); m > 0; m--) {
        const at = Math.floor(r() * chars.length);
        const op = r();
        if (op < 0.4) chars.splice(at, 1);
        else if (op < 0.8) chars.splice(at, 0, alphabet[Math.floor(r() * alphabet.length)]!);
        else chars[at] = alphabet[Math.floor(r() * alphabet.length)]!;
      }
      const text = chars.join("");
      let want: unknown;
      try {
        want = JSON.parse(text);
      } catch {
        want = "invalid-json";
      }
      if (want !== "invalid-json" && !Array.isArray(want)) want = "invalid-posts-file";
      const sizes = rng(n);
      const got = await items(utf8(text), () => 1 + Math.floor(sizes() * 16)).catch(
        (err: { code: string }) => err.code,
      );
      expect(got, text).toEqual(want);
    }
  });
});

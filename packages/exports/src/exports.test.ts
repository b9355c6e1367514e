import { type FileHandle, mkdtemp, open, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import yauzl from "yauzl";
import yazl from "yazl";
import {
  countMetaJson,
  DEFAULT_ZIP_LIMITS,
  ExportError,
  type ExportPost,
  parseLegacyMediaJson,
  parseMetaHtml,
  readExport,
  streamMetaJson,
  ZipTree,
} from "./index.js";

async function zipFile(entries: Record<string, string | Buffer>): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const [name, body] of Object.entries(entries)) zip.addBuffer(Buffer.from(body), name);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  const path = join(await mkdtemp(join(tmpdir(), "exp-")), "part.zip");
  await writeFile(path, Buffer.concat(chunks));
  return path;
}

/** Every post of an export, read through. */
async function postsOf(tree: ZipTree, options = { includeReels: true, includeArchived: false }) {
  const contents = await readExport(tree, options);
  const posts: ExportPost[] = [];
  for await (const p of contents.posts) posts.push(p);
  return { ...contents, posts };
}

async function* chunksOf(text: string, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** A Meta JSON posts file's posts as ingest reads them: streamed (here in one chunk). */
async function metaJson(
  text: string,
  file: string,
  kind: ExportPost["kind"] = "post",
): Promise<ExportPost[]> {
  const posts: ExportPost[] = [];
  for await (const group of streamMetaJson(chunksOf(text, text.length || 1), file, kind))
    posts.push(...group);
  return posts;
}

const post = (title: string, uri = `media/posts/202401/${title.length}.jpg`) => ({
  media: [{ uri, creation_timestamp: 1_700_000_000, title }],
});

describe("Meta JSON", () => {
  it("takes the post title for carousels and the first media title for single posts; repairs mojibake", async () => {
    const posts = await metaJson(
      JSON.stringify([
        {
          title: "Caf\u00c3\u00a9 #latte",
          creation_timestamp: 1726487732,
          media: [
            { uri: "a.heic", title: "" },
            { uri: "b.webp", title: "" },
          ],
        },
        {
          media: [
            { uri: "c.mp4", creation_timestamp: 1699789412, title: "reef \u00f0\u009f\u008c\u008a #dive" },
          ],
        },
        { media: [] },
      ]),
      "posts_1.json",
      "post",
    );
    expect(posts.map((p) => [p.caption, p.mediaUris, p.takenAt])).toEqual([
      ["Café #latte", ["a.heic", "b.webp"], "2024-09-16T11:55:32.000Z"],
      ["reef 🌊 #dive", ["c.mp4"], "2023-11-12T11:43:32.000Z"],
      ["", [], null],
    ]);
  });
  it("reads wrapper objects (reels, archived) and a bare post object", async () => {
    expect((await metaJson(JSON.stringify({ ig_reels_media: [post("r")] }), "reels.json"))[0]!.kind).toBe(
      "reel",
    );
    expect((await metaJson(JSON.stringify({ ig_archived_post_media: [post("a")] }), "x.json"))[0]!.kind).toBe(
      "archived",
    );
    expect(await metaJson(JSON.stringify(post("bare")), "posts_1.json")).toHaveLength(1);
  });
  it("refuses a posts file that holds no array of posts with its own code, naming the file and what it found", async () => {
    const refused = (json: unknown) => expect(metaJson(JSON.stringify(json), "content/posts_1.json")).rejects;
    const expected = (found: string) =>
      new ExportError(
        "invalid-posts-file",
        `content/posts_1.json: expected an array of posts (or an object whose ig_reels_media or ig_archived_post_media holds one), found ${found}`,
      );
    await refused({ posts: [] }).toThrow(expected("an object"));
    await refused("text").toThrow(expected("a string"));
    await refused(null).toThrow(expected("null"));
    // the wrapper key of the reviewed report: an object where the array belongs gave "items.forEach is not a function"
    await refused({ ig_reels_media: { media: [] } }).toThrow(expected("an object"));
    await refused({ ig_reels_media: { media: [] } }).toThrow(ExportError);
    expect(await metaJson("[]", "content/posts_1.json")).toEqual([]);
  });
  it("reads the same posts streamed in small chunks as in one, and counts them first", async () => {
    const files = {
      "posts_1.json": JSON.stringify([
        { title: "Caf\u00c3\u00a9 [#latte]", creation_timestamp: 1726487732, media: [{ uri: "a.heic" }] },
        post("reef \u00f0\u009f\u008c\u008a #dive"),
        { media: [] },
      ]),
      "reels.json": `\ufeff${JSON.stringify({ ig_reels_media: [post("r1"), post("r2")] }, null, 2)}`,
      "archived_posts.json": JSON.stringify({ ig_archived_post_media: [post("a")] }),
      "bare.json": JSON.stringify(post("bare")),
    };
    for (const [file, text] of Object.entries(files)) {
      const whole = await metaJson(text, file);
      for (const size of [1, 5, 4096]) {
        const streamed: ExportPost[] = [];
        for await (const group of streamMetaJson(chunksOf(text, size), file, "post")) streamed.push(...group);
        expect(streamed).toEqual(whole);
        expect(await countMetaJson(chunksOf(text, size), file)).toBe(whole.length);
      }
    }
    const reels = await metaJson(files["reels.json"], "reels.json");
    expect(reels.map((p) => [p.sourceFile, p.kind, p.caption])).toEqual([
      ["reels.json#0", "reel", "r1"],
      ["reels.json#1", "reel", "r2"],
    ]);
  });
  it("names the file in a JSON syntax error", async () => {
    await expect(metaJson("[{", "content/posts_1.json")).rejects.toThrow(
      /invalid-json: content\/posts_1.json/,
    );
  });
});

describe("Meta HTML", () => {
  it("reads 2025 h2 and 2022 div captions, decodes entities, keeps carousels and raw dates", () => {
    const html = `<html><body>
      <div class="pam _3-95 _2ph- _a6-g uiBoxWhite noborder">
        <h2 class="_3-95 _2pim _a6-h _a6-i">Sunday market with &#064;greenbasket.co &mdash; can&#039;t stop #figs</h2>
        <div class="_3-95 _a6-p"><a target="_blank" href="media/posts/202406/1.jpg"><img src="media/posts/202406/1.jpg" class="_a6_o _3-96"></a></div>
        <div class="_3-94 _a6-o">Jun 9, 2024 10:14 am</div>
      </div>
      <div class="pam _3-95 _2ph- _a6-g uiBoxWhite noborder">
        <div class="_3-95 _2pim _a6-h _a6-i">First snow ❄️ #hiking</div>
        <div class="_3-95 _a6-p">
          <a href="media/posts/202201/2.webp"><img src="media/posts/202201/2.webp"></a>
          <a href="media/posts/202201/3.mp4"><video src="media/posts/202201/3.mp4"></video></a>
        </div>
        <div class="_3-94 _a6-o">Jan 16, 2022, 3:47 PM</div>
      </div></body></html>`;
    const posts = parseMetaHtml(html, "your_instagram_activity/media/posts_1.html", "post");
    expect(posts.map((p) => [p.caption, p.mediaUris, p.takenAtRaw])).toEqual([
      [
        "Sunday market with @greenbasket.co — can't stop #figs",
        ["media/posts/202406/1.jpg"],
        "Jun 9, 2024 10:14 am",
      ],
      [
        "First snow ❄️ #hiking",
        ["media/posts/202201/2.webp", "media/posts/202201/3.mp4"],
        "Jan 16, 2022, 3:47 PM",
      ],
    ]);
  });

  it("refuses markup nested too deep to walk with invalid-posts-file, not a stack overflow", () => {
    const html = `<div class="uiBoxWhite">${"<div>".repeat(20_000)}deep</div>`;
    expect(() => parseMetaHtml(html, "content/posts_1.html", "post")).toThrow(
      new ExportError("invalid-posts-file", "content/posts_1.html: its HTML nests too deeply to read"),
    );
  });
});

describe("legacy media.json", () => {
  it("refuses a file nested deeper than 256 levels with invalid-json", () => {
    const deep = `{"photos": [{"caption": ${"[".repeat(50_000)}${"]".repeat(50_000)}}]}`;
    expect(() => parseLegacyMediaJson(deep, "media.json")).toThrow(
      new ExportError("invalid-json", "media.json: a value nested deeper than 256 levels"),
    );
  });

  it("groups photos of one carousel by time and caption", () => {
    const posts = parseLegacyMediaJson(
      JSON.stringify({
        photos: [
          { caption: "two pics #a", taken_at: "2018-09-20T03:40:04+00:00", path: "photos/201809/x.jpg" },
          { caption: "two pics #a", taken_at: "2018-09-20T03:40:04+00:00", path: "photos/201809/y.jpg" },
          { caption: "one", taken_at: "2018-09-21T03:40:04", path: "photos/201809/z.jpg" },
        ],
      }),
      "media.json",
    )!;
    expect(posts.map((p) => p.mediaUris)).toEqual([
      ["photos/201809/x.jpg", "photos/201809/y.jpg"],
      ["photos/201809/z.jpg"],
    ]);
  });
});

describe("readExport over zip parts", () => {
  it("finds posts files of every era by suffix, in numeric order, across parts, skipping decoys and archived by default", async () => {
    const a = await zipFile({
      "meta-2025/instagram-me/your_instagram_activity/media/posts_10.json": JSON.stringify([post("ten")]),
      "meta-2025/instagram-me/your_instagram_activity/media/posts_2.json": JSON.stringify([post("two")]),
      "meta-2025/instagram-me/your_instagram_activity/subscriptions/reels.json": JSON.stringify({
        subscriptions_reels: [],
      }),
      "meta-2025/instagram-me/your_instagram_activity/media/archived_posts.json": JSON.stringify({
        ig_archived_post_media: [post("old")],
      }),
    });
    const b = await zipFile({
      "your_instagram_activity/content/posts_1.json": JSON.stringify([post("one")]),
      "your_instagram_activity/media/reels.json": JSON.stringify({ ig_reels_media: [post("reel")] }),
      "media/posts/202401/3.jpg": "jpeg bytes",
    });
    const tree = await ZipTree.open([a, b]);
    const { posts, records, files } = await postsOf(tree);
    expect(posts.map((p) => p.caption)).toEqual(["one", "two", "ten", "reel"]);
    expect(posts.map((p) => p.kind)).toEqual(["post", "post", "post", "reel"]);
    expect(records).toBe(4);
    expect(files).toEqual([
      "your_instagram_activity/content/posts_1.json",
      "meta-2025/instagram-me/your_instagram_activity/media/posts_2.json",
      "meta-2025/instagram-me/your_instagram_activity/media/posts_10.json",
      "your_instagram_activity/media/reels.json",
    ]);
    expect(tree.resolve("media/posts/202401/3.jpg")).toBe("media/posts/202401/3.jpg");
    const withArchive = await postsOf(tree, { includeReels: false, includeArchived: true });
    expect(withArchive.posts.map((p) => p.caption)).toEqual(["one", "two", "ten", "old"]);
    tree.close();
  });
  it("prefers JSON when an export carries both JSON and HTML, reads HTML-only exports", async () => {
    const html = `<div class="uiBoxWhite"><h2 class="_a6-h">from html</h2></div>`;
    const both = await ZipTree.open([
      await zipFile({
        "content/posts_1.json": JSON.stringify([post("from json")]),
        "content/posts_1.html": html,
      }),
    ]);
    expect((await postsOf(both)).posts.map((p) => p.caption)).toEqual(["from json"]);
    const htmlOnly = await ZipTree.open([await zipFile({ "content/posts_1.html": html })]);
    expect(await postsOf(htmlOnly)).toMatchObject({
      posts: [{ caption: "from html" }],
      records: 1,
      files: ["content/posts_1.html"],
    });
  });
  it("resolves media of a re-zipped archive by suffix and falls back to the basename", async () => {
    const tree = await ZipTree.open([
      await zipFile({ "wrapper/media/posts/202401/a.jpg": "x", "elsewhere/b.jpg": "y" }),
    ]);
    expect(tree.resolve("media/posts/202401/a.jpg")).toBe("wrapper/media/posts/202401/a.jpg");
    expect(tree.resolve("media/posts/202401/b.jpg")).toBe("elsewhere/b.jpg");
    expect(tree.resolve("media/posts/202401/none.jpg")).toBeUndefined();
  });
  it("reports a zip cut short as truncated-zip, and only a file that never was a zip as not-a-zip", async () => {
    const whole = await readFile(await zipFile({ "content/posts_1.json": JSON.stringify([post("a")]) }));
    const dir = await mkdtemp(join(tmpdir(), "exp-"));
    const write = async (name: string, bytes: Buffer) => {
      await writeFile(join(dir, name), bytes);
      return join(dir, name);
    };
    const cut = ZipTree.open([await write("cut.zip", whole.subarray(0, whole.length - 30))]);
    await expect(cut).rejects.toBeInstanceOf(ExportError);
    await expect(cut).rejects.toMatchObject({
      code: "truncated-zip",
      message:
        "truncated-zip: part 1 is cut short: it starts as a zip archive but its end (the central directory) is missing; upload the whole file",
    });
    for (const bytes of [Buffer.from("plain text, no zip"), Buffer.alloc(0)])
      await expect(ZipTree.open([await write("text.zip", bytes)])).rejects.toMatchObject({
        code: "not-a-zip",
      });
  });
  it("never inflates entries no post references: 100 x 1 MiB of unreferenced entries are never read", async () => {
    const junk = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`junk/${i}.bin`, Buffer.alloc(2 ** 20)] as const),
    );
    const uri = "media/posts/202401/a.jpg";
    const tree = await ZipTree.open([
      await zipFile({ ...junk, "content/posts_1.json": JSON.stringify([post("a", uri)]), [uri]: "jpeg" }),
    ]);
    // an entry's bytes are read through the tree's `stream` (inflated as it goes) or `read` (whole); a streamed read
    // opens yauzl's read stream, and a whole one of a small entry reads the part itself
    const streamed = vi.spyOn(yauzl.ZipFile.prototype, "openReadStream");
    const handle = await open(tmpdir()); // fs/promises keeps the FileHandle class to itself
    const fileHandles = Object.getPrototypeOf(handle) as FileHandle;
    await handle.close();
    const reads = vi.spyOn(fileHandles, "read");
    try {
      const { posts } = await postsOf(tree);
      expect(posts.map((p) => p.mediaUris)).toEqual([[uri]]);
      // the posts file (counted, then read), and none of the junk entries
      const names = streamed.mock.calls.map(([entry]) => (entry as yauzl.Entry).fileName);
      expect(names).toEqual(["content/posts_1.json", "content/posts_1.json"]);
      expect(reads).not.toHaveBeenCalled();
      // the one referenced medium: its local header, then its bytes
      expect((await tree.read(tree.resolve(uri)!)).toString()).toBe("jpeg");
      expect(reads).toHaveBeenCalledTimes(2);
      expect(streamed).toHaveBeenCalledTimes(2);
    } finally {
      streamed.mockRestore();
      reads.mockRestore();
      tree.close();
    }
  });
  it("finds a syntax error or a refused file in any posts file before yielding a post", async () => {
    const many = JSON.stringify(Array.from({ length: 50 }, (_, i) => post(`p${i}`)));
    for (const [broken, code] of [
      [`${many.slice(0, -1)}, {"media": []}`, "invalid-json"], // cut short
      [`${many} ]`, "invalid-json"], // trailing text
      ['{"posts": []}', "invalid-posts-file"],
    ] as const) {
      const tree = await ZipTree.open([
        await zipFile({ "content/posts_1.json": many, "content/posts_2.json": broken }),
      ]);
      const read = readExport(tree, { includeReels: true, includeArchived: false });
      await expect(read, broken.slice(-20)).rejects.toMatchObject({
        code,
        message: expect.stringContaining("content/posts_2.json: "),
      });
      tree.close();
    }
  });
  it("streams a posts file: the first post comes before the file is inflated to its end", async () => {
    const posts = Array.from({ length: 5000 }, (_, i) => post(`post number ${i} #stream`));
    const tree = await ZipTree.open([await zipFile({ "content/posts_1.json": JSON.stringify(posts) })]);
    const contents = await readExport(tree, { includeReels: true, includeArchived: false });
    expect(contents.records).toBe(5000);
    const stream = tree.stream.bind(tree);
    let pulled = 0;
    let total = 0;
    for await (const c of stream("content/posts_1.json")) total += c.length > 0 ? 1 : 0;
    vi.spyOn(tree, "stream").mockImplementation(async function* (path, maxBytes) {
      for await (const c of stream(path, maxBytes)) {
        pulled++;
        yield c;
      }
    });
    const it = contents.posts[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ caption: "post number 0 #stream" });
    expect(total).toBeGreaterThan(10);
    expect(pulled).toBe(1);
    await it.return?.();
    tree.close();
  });
  it("reads a legacy media.json whole, with its count", async () => {
    const tree = await ZipTree.open([
      await zipFile({
        "media.json": JSON.stringify({
          photos: [
            { caption: "a", taken_at: "2018-09-20T03:40:04+00:00", path: "photos/x.jpg" },
            { caption: "a", taken_at: "2018-09-20T03:40:04+00:00", path: "photos/y.jpg" },
          ],
        }),
      }),
    ]);
    expect(await postsOf(tree)).toMatchObject({
      files: ["media.json"],
      records: 1,
      posts: [{ mediaUris: ["photos/x.jpg", "photos/y.jpg"] }],
    });
    tree.close();
  });
  it("refuses an entry larger than the limit, streamed or read whole", async () => {
    const tree = await ZipTree.open([await zipFile({ "media/a.jpg": Buffer.alloc(100) })]);
    const message = "zip-bomb: entry media/a.jpg is 100 bytes (limit 99)";
    await expect(tree.read("media/a.jpg", 99)).rejects.toThrow(message);
    await expect(tree.stream("media/a.jpg", 99).next()).rejects.toThrow(message);
    expect(await tree.read("media/a.jpg", 100)).toHaveLength(100);
    tree.close();
  });
  it("reads a small entry whole from whichever part holds it; after close, a read fails and touches no file", async () => {
    const photo = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 253));
    const tree = await ZipTree.open([
      await zipFile({ "content/posts_1.json": "[]", "media/a.jpg": "first part" }),
      await zipFile({ "media/b.jpg": photo }),
    ]);
    expect((await tree.read("media/b.jpg")).equals(photo)).toBe(true);
    expect((await tree.read("media/a.jpg")).toString()).toBe("first part");
    tree.close();
    // a descriptor the tree used may be another file's by now: a late read (an ingest given up with reads queued)
    // must fail on its own, never read or close that file
    const other = await open(await zipFile({ "x.txt": "someone else's" }), "r");
    try {
      await expect(tree.read("media/b.jpg")).rejects.toThrow("the archive is closed");
      await expect(tree.stream("media/b.jpg").next()).rejects.toThrow("the archive is closed");
      expect((await other.stat()).size).toBeGreaterThan(0); // still open
    } finally {
      await other.close();
    }
  });

  it("reads a small entry whole as it streams it, stored or deflated; a corrupt one is truncated-zip either way", async () => {
    const noise = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 251));
    const text = Buffer.from("a caption, ".repeat(5000));
    const zip = new yazl.ZipFile();
    zip.addBuffer(noise, "media/stored.jpg", { compress: false });
    zip.addBuffer(text, "media/deflated.txt");
    zip.end();
    const chunks: Buffer[] = [];
    for await (const c of zip.outputStream) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    const path = join(await mkdtemp(join(tmpdir(), "exp-")), "part.zip");
    await writeFile(path, bytes);
    const streamed = async (t: ZipTree, name: string) => {
      const parts: Buffer[] = [];
      for await (const c of t.stream(name)) parts.push(c);
      return Buffer.concat(parts);
    };
    const tree = await ZipTree.open([path]);
    expect(await tree.read("media/stored.jpg")).toEqual(noise);
    expect(await tree.read("media/deflated.txt")).toEqual(text);
    expect(await streamed(tree, "media/deflated.txt")).toEqual(text);
    tree.close();
    // the deflated entry's data overwritten a little past its start (after its local header and name)
    const at = bytes.indexOf(Buffer.from("media/deflated.txt")) + "media/deflated.txt".length + 4;
    bytes.fill(0xff, at, at + 16);
    await writeFile(path, bytes);
    const broken = await ZipTree.open([path]);
    await expect(broken.read("media/deflated.txt")).rejects.toMatchObject({ code: "truncated-zip" });
    await expect(streamed(broken, "media/deflated.txt")).rejects.toMatchObject({ code: "truncated-zip" });
    expect(await broken.read("media/stored.jpg")).toEqual(noise);
    broken.close();
    // an entry that holds more than its central directory declares (what a read reserves memory for)
    const longer = Buffer.concat(chunks);
    const record = longer.lastIndexOf(Buffer.from("media/deflated.txt")) - 46; // its central directory header
    longer.writeUInt32LE(text.length - 100, record + 24);
    await writeFile(path, longer);
    const lying = await ZipTree.open([path]);
    await expect(lying.read("media/deflated.txt")).rejects.toMatchObject({ code: "truncated-zip" });
    await expect(streamed(lying, "media/deflated.txt")).rejects.toMatchObject({ code: "truncated-zip" });
    lying.close();
  });
  it("streams a JSON posts file past the in-memory entry limit; media stay under it", async () => {
    const posts = Array.from({ length: 50 }, (_, i) => ({
      title: `post ${i}`,
      media: [{ uri: "media/a.jpg" }],
    }));
    const tree = await ZipTree.open(
      [await zipFile({ "content/posts_1.json": JSON.stringify(posts), "media/a.jpg": Buffer.alloc(200) })],
      { ...DEFAULT_ZIP_LIMITS, maxEntryBytes: 100 },
    );
    expect((await postsOf(tree)).posts).toHaveLength(50);
    await expect(tree.read("media/a.jpg")).rejects.toThrow(/zip-bomb/);
    tree.close();
  });
  it("rejects an export without posts files with its own code", async () => {
    const tree = await ZipTree.open([
      await zipFile({ "your_instagram_activity/subscriptions/reels.json": "{}" }),
    ]);
    await expect(readExport(tree, { includeReels: true, includeArchived: false })).rejects.toMatchObject({
      code: "no-posts-file",
    });
    await expect(readExport(tree, { includeReels: true, includeArchived: false })).rejects.toBeInstanceOf(
      ExportError,
    );
  });
});

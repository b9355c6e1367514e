// The ingest job over a JSON batch, with two API keys: a post may use only images its own key may read. And a
// batch whose posts are streamed: counted first, so a malformed document stores nothing.
import { randomUUID } from "node:crypto";
import { readdir } from "node:fs/promises";
import { batchSourceSchema } from "@lxtag/contracts";
import { describe, expect, it, vi } from "vitest";
import { uploadForm, useTestApi, zipOf } from "../testing/harness.js";
import { runIngest } from "./ingest-job.js";

interface Row {
  seq: number;
  state: string;
  error: string | null;
  imageKey: string | null;
}

describe("ingest of a JSON batch", () => {
  const api = useTestApi();

  it("fails alone each post whose image is an S3 key outside its key's uploads; the batch goes on", async () => {
    const other = await api.newKey();
    const mine = `uploads/${api.keyId}/${randomUUID()}/photo.png`;
    const theirs = `uploads/${other.keyId}/${randomUUID()}/photo.png`;
    await api.deps.store.put(mine, "png");
    await api.deps.store.put(theirs, "png");
    const dotted = `uploads/${api.keyId}/../${other.keyId}/photo.png`;
    const posts = [
      { caption: "mine #own", image: mine },
      { caption: "borrowed", image: theirs },
      { caption: "the detector", image: "detectors/current.json" },
      { caption: "content-addressed", image: `images/${"ab".repeat(32)}` },
      { caption: "dotted", image: dotted },
      { caption: "from the web", image: "https://images.example.com/a.png" },
      // the same caption as a refused post, without an image: another post, not merged with it
      { caption: "borrowed" },
    ];
    const { batchId } = await jsonBatch(posts);

    await runIngest(batchId, {
      repos: api.deps.repos,
      store: api.deps.store,
      features: api.deps.queues.features,
      log: api.deps.log,
    });

    const rows = await api.deps.db.pool.query<Row>(
      `SELECT seq, state, error, image_key AS "imageKey" FROM posts WHERE batch_id = $1 ORDER BY seq`,
      [batchId],
    );
    const outside = `not under this API key's prefix uploads/${api.keyId}/`;
    const refused = (key: string, reason = outside): Partial<Row> => ({
      state: "failed",
      error: `invalid-image: S3 key ${JSON.stringify(key)} is ${reason}`,
      imageKey: null,
    });
    expect(rows.rows.map(({ seq: _, ...r }) => r)).toEqual([
      { state: "pending", error: null, imageKey: mine },
      refused(theirs),
      refused("detectors/current.json"),
      refused(`images/${"ab".repeat(32)}`),
      refused(dotted, "a key with an empty, '.' or '..' path segment"),
      { state: "pending", error: null, imageKey: "https://images.example.com/a.png" },
      { state: "pending", error: null, imageKey: null },
    ]);
    const summary = await api.deps.repos.batches.summary((await api.deps.repos.batches.find(batchId))!);
    expect(summary.state).toBe("processing");
    expect(summary.errors).toEqual([{ reason: "invalid-image", count: 4 }]);
  });

  /** A JSON batch of `posts` whose S3 object is then replaced by `text`. */
  async function jsonBatch(posts: object[], text?: string): Promise<{ batchId: string; key: string }> {
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      headers: { "x-api-key": api.key },
      payload: { posts },
    });
    expect(res.statusCode).toBe(202);
    const { batchId } = res.json() as { batchId: string };
    const source = batchSourceSchema.parse((await api.deps.repos.batches.find(batchId))!.source);
    if (source.type !== "json") throw new Error("not a JSON batch");
    if (text !== undefined) await api.deps.store.put(source.key, text);
    return { batchId, key: source.key };
  }

  const ingest = (batchId: string) =>
    runIngest(batchId, {
      repos: api.deps.repos,
      store: api.deps.store,
      features: api.deps.queues.features,
      log: api.deps.log,
      chunkSize: 3,
    });

  const stored = async (batchId: string) =>
    (
      await api.deps.db.pool.query<{ seq: number; caption: string; error: string | null }>(
        "SELECT seq, caption, error FROM posts WHERE batch_id = $1 ORDER BY seq",
        [batchId],
      )
    ).rows;

  it("reads a JSON batch chunk by chunk: seqs run on across chunks, the total is known first", async () => {
    const posts = Array.from({ length: 8 }, (_, i) => ({ caption: `post ${i} #chunked` }));
    const { batchId } = await jsonBatch([...posts.slice(0, 4), { caption: 42 }, ...posts.slice(4)]);
    const progress = vi.spyOn(api.deps.repos.batches, "recordIngestProgress");
    let calls: unknown[][];
    try {
      expect(await ingest(batchId)).toEqual({ posts: 9 });
      calls = progress.mock.calls.filter(([id]) => id === batchId).map(([, read, total]) => [read, total]);
    } finally {
      progress.mockRestore();
    }
    // the total before the first post is stored, then the records read, chunk by chunk
    expect(calls).toEqual([
      [0, 9],
      [3, 9],
      [6, 9],
      [9, 9],
    ]);
    const rows = await stored(batchId);
    expect(rows.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rows.map((r) => r.caption)).toEqual(
      [...posts.slice(0, 4), { caption: "" }, ...posts.slice(4)].map((p) => p.caption),
    );
    expect(rows[4]!.error).toMatch(/^invalid-post: /);
    const summary = await api.deps.repos.batches.summary((await api.deps.repos.batches.find(batchId))!);
    expect(summary.ingest).toEqual({ postsRead: 9, postsTotal: 9 });
  });

  it("ingests a JSON file of posts uploaded as a multipart part (streamed), as an array or as {posts: [...]}", async () => {
    const posts = [{ caption: "first #file" }, { caption: 42 }, { caption: "third #file" }];
    for (const { name, type, text } of [
      { name: "posts.json", type: "application/json", text: JSON.stringify({ posts }) },
      // untyped, as curl sends a file unless told: its name says JSON
      { name: "export.JSON", type: "application/octet-stream", text: JSON.stringify(posts) },
      // past the first KiB the upload does not look: the ingest reads the rest
      { name: "spaced.json", type: "application/json", text: `${" ".repeat(2048)}${JSON.stringify(posts)}` },
    ]) {
      const res = await api.app.inject({
        method: "POST",
        url: "/v1/batches",
        headers: { "x-api-key": api.key },
        payload: uploadForm([{ name, bytes: text, type }], JSON.stringify({ includeArchived: true })),
      });
      expect(res.statusCode, res.body).toBe(202);
      const { batchId } = res.json() as { batchId: string };
      const batch = (await api.deps.repos.batches.find(batchId))!;
      expect(batch.source).toEqual({ type: "json", key: `uploads/${api.keyId}/${batchId}/posts.json` });
      expect(batch.options).toMatchObject({ includeArchived: true });
      expect(await ingest(batchId)).toEqual({ posts: 3 });
      const rows = await stored(batchId);
      expect(rows.map((r) => r.caption)).toEqual(["first #file", "", "third #file"]);
      expect(rows.map((r) => r.error?.split(":")[0] ?? null)).toEqual([null, "invalid-post", null]);
    }
  });

  it("refuses zip parts beside a JSON file, and a file sent as JSON that is none, keeping nothing of them", async () => {
    const kept = async () => ({
      objects: await api.deps.store.list(`uploads/${api.keyId}/`),
      batches: (
        await api.deps.db.pool.query("SELECT id FROM batches WHERE api_key_id = $1 ORDER BY id", [api.keyId])
      ).rows,
      spool: await readdir(api.deps.spool.dir).catch(() => []),
    });
    const before = await kept();
    const zip = await zipOf({ "your_instagram_activity/media/posts_1.json": "[]" });
    const json = (name: string, bytes: string | Buffer) => ({ name, bytes, type: "application/json" });
    for (const [parts, error, message] of [
      [[{ name: "export.zip", bytes: zip }, json("posts.json", "[]")], "mixed_upload", /one JSON file/],
      [[json("posts.json", "[]"), json("more.json", "[]")], "mixed_upload", /not two JSON files/],
      [
        [json("export.json", zip)],
        "invalid_json",
        /^file "export.json" is not valid JSON: it is a zip archive/,
      ],
      [[json("posts.json", " \n ")], "invalid_json", /: it is empty$/],
      [[json("posts.json", "caption,image")], "invalid_json", /: it starts with "c"$/],
    ] as const) {
      const res = await api.app.inject({
        method: "POST",
        url: "/v1/batches",
        headers: { "x-api-key": api.key },
        payload: uploadForm([...parts]),
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ error, message: expect.stringMatching(message) });
    }
    expect(await kept()).toEqual(before);
  });

  it("drops NUL from a caption (Postgres cannot store it) and fails alone a post whose id or image holds one", async () => {
    const { batchId } = await jsonBatch([
      { caption: "before" },
      { caption: "nul \u0000 inside #kept" },
      { caption: "named", externalId: "id\u0000" },
      { caption: "pictured", image: "https://example.com/a\u0000.jpg" },
      { caption: "after" },
    ]);
    expect(await ingest(batchId)).toEqual({ posts: 5 });
    const rows = await stored(batchId);
    expect(rows.map((r) => r.caption)).toEqual(["before", "nul  inside #kept", "", "", "after"]);
    expect(rows.map((r) => r.error?.replace(/:.*/s, "") ?? null)).toEqual([
      null,
      null,
      "invalid-post",
      "invalid-post",
      null,
    ]);
    expect(rows[2]!.error).toContain("must not hold control characters");
  });

  it("fails a JSON batch whose document is malformed late in the file before storing any post", async () => {
    const posts = Array.from({ length: 20 }, (_, i) => ({ caption: `post ${i}` }));
    const text = JSON.stringify(posts);
    for (const [broken, error] of [
      [text.slice(0, -1), "unexpected end of the JSON text"],
      [`${text.slice(0, -1)},{"caption": "x",}]`, 'unexpected "}"'],
      [`${text} []`, 'unexpected "[" after the end of the JSON value'],
    ] as const) {
      const { batchId, key } = await jsonBatch(posts, broken);
      expect(await ingest(batchId)).toEqual({ posts: 0 });
      const batch = (await api.deps.repos.batches.find(batchId))!;
      expect(batch.state).toBe("failed");
      expect(batch.error).toContain(`invalid-json: ${key}: ${error}`);
      expect(await stored(batchId)).toEqual([]);
    }
  });

  it("refuses a JSON batch whose document is not an array, wrapper objects included", async () => {
    const { batchId, key } = await jsonBatch(
      [{ caption: "x" }],
      JSON.stringify({ ig_reels_media: [{ caption: "x" }] }),
    );
    expect(await ingest(batchId)).toEqual({ posts: 0 });
    expect((await api.deps.repos.batches.find(batchId))!).toMatchObject({
      state: "failed",
      error: `invalid-posts-file: ${key}: expected an array of posts or {posts: [...]}, found an object`,
    });
  });

  it("fails an export with a malformed second posts file before storing the first file's posts", async () => {
    const record = (i: number) => ({
      media: [{ uri: `media/${i}.jpg`, creation_timestamp: 1, title: `p${i}` }],
    });
    const zip = await zipOf({
      "your_instagram_activity/media/posts_1.json": JSON.stringify(
        Array.from({ length: 10 }, (_, i) => record(i)),
      ),
      "your_instagram_activity/media/posts_2.json": `[${JSON.stringify(record(10))},`,
    });
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      headers: { "x-api-key": api.key },
      payload: uploadForm([{ name: "export.zip", bytes: zip }]),
    });
    expect(res.statusCode).toBe(202);
    const { batchId } = res.json() as { batchId: string };
    expect(await ingest(batchId)).toEqual({ posts: 0 });
    const batch = (await api.deps.repos.batches.find(batchId))!;
    expect(batch.state).toBe("failed");
    expect(batch.error).toMatch(
      /^invalid-json: your_instagram_activity\/media\/posts_2\.json: unexpected end of the JSON text/,
    );
    expect(await stored(batchId)).toEqual([]);
  });

  it("reads an export whose records come in every wrong shape: each one a post or failed alone, the batch goes on", async () => {
    const at = (extra: object) => ({ media: [{ uri: "media/a.jpg", ...extra }] });
    const records: unknown[] = [
      null,
      1,
      "text",
      [],
      { media: "x" },
      { media: [null, 1, { uri: 5 }, { uri: "" }] },
      { media: [{ uri: "../../etc/passwd" }] },
      at({ creation_timestamp: "yesterday", title: "a string time" }),
      at({ creation_timestamp: 1e20, title: "beyond what a Date holds" }),
      at({ creation_timestamp: 1e12, title: "year 33658" }),
      at({ title: { not: "text" } }),
      at({ title: "caf\u00c3\u00a9 \u0000 #mojibake" }),
      { title: ["an", "array"], media: [{ uri: "media/b.mp4" }] },
      at({ title: "x".repeat(70_000) }),
    ];
    const zip = await zipOf({
      "your_instagram_activity/media/posts_1.json": JSON.stringify(records),
      "media/a.jpg": "not a jpeg",
    });
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      headers: { "x-api-key": api.key },
      payload: uploadForm([{ name: "export.zip", bytes: zip }]),
    });
    const { batchId } = res.json() as { batchId: string };
    await ingest(batchId);
    const summary = await api.deps.repos.batches.summary((await api.deps.repos.batches.find(batchId))!);
    expect(summary.state).toBe("processing");
    expect(summary.ingest).toEqual({ postsRead: records.length, postsTotal: records.length });
    const rows = await api.deps.db.pool.query<{
      caption: string;
      takenAt: Date | null;
      error: string | null;
    }>(`SELECT caption, taken_at AS "takenAt", error FROM posts WHERE batch_id = $1 ORDER BY seq`, [batchId]);
    const byCaption = new Map(rows.rows.map((r) => [r.caption, r]));
    for (const caption of ["beyond what a Date holds", "year 33658"])
      expect(byCaption.get(caption)).toMatchObject({ takenAt: null, error: null });
    expect(byCaption.get("a string time")).toMatchObject({ takenAt: null, error: null });
    expect(byCaption.get("café  #mojibake")).toMatchObject({ error: null });
    expect(byCaption.get("x".repeat(70_000).slice(0, 65_536))?.error).toMatch(/^caption-too-long: /);
    for (const r of rows.rows) expect(r.error ?? "ok").toMatch(/^(ok$|empty-post: |caption-too-long: )/);
  });
});

// The ingest of an export whose posts share media: each distinct archive path is read once and each distinct image
// looked up and stored once (counted on the wire through an S3 proxy), and posts are stored, enqueued and processed
// while the rest of the export is still being read (the batch's progress moves during ingest).
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { imageObjectKey, isPostRange } from "@lxtag/contracts";
import { storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { S3Proxy } from "@lxtag/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedModel } from "../testing/fixtures.js";
import { uploadForm, useTestApi, zipOf } from "../testing/harness.js";
import { ChunkWriter } from "./chunk-writer.js";
import { runIngest } from "./ingest-job.js";
import { LOOKUP_ABOVE_BYTES } from "./media-reader.js";
import { buildPost } from "./post-builder.js";

/** A PNG signature and random bytes: a new image to S3 each run (the sniffer reads the signature only). */
const png = (bytes = 256) =>
  Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(bytes)]);

const POSTS_FILE = "your_instagram_activity/media/posts_1.json";
const record = (i: number, uris: string[]) => ({
  media: uris.map((uri) => ({ uri, creation_timestamp: 1_700_000_000 + i, title: `post ${i} #shared` })),
});

describe("an export whose posts share images", () => {
  const api = useTestApi();
  let proxy: S3Proxy;
  let store: ObjectStore;

  beforeAll(async () => {
    proxy = await S3Proxy.start(api.deps.config.LXTAG_S3_ENDPOINT);
    store = new ObjectStore({ ...storeOptions(api.deps.config), endpoint: proxy.url });
  });
  afterAll(async () => {
    store?.destroy();
    await proxy?.close();
  });

  async function upload(files: Record<string, Buffer>): Promise<string> {
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      headers: { "x-api-key": api.key },
      payload: uploadForm([{ name: "export.zip", bytes: await zipOf(files) }]),
    });
    expect(res.statusCode).toBe(202);
    return res.json().batchId;
  }

  it("reads each distinct path once and stores each distinct image once, looking up only large ones", async () => {
    const [a, b, c, large] = [png(), png(), png(), png(LOOKUP_ABOVE_BYTES)];
    const paths = {
      a: "media/posts/202401/a.png",
      b: "media/posts/202401/b.png",
      c: "media/posts/202401/c.png",
    };
    // the same bytes as `a` under another name: another path to read, but the same image to store
    const aCopy = "media/posts/202402/a-again.png";
    const posts = [
      ...Array.from({ length: 30 }, (_, i) => record(i, [paths.a])),
      ...Array.from({ length: 30 }, (_, i) => record(100 + i, [paths.b])),
      // carousels: `c` first seen second (hashed, not stored), then, a chunk later, first (stored: read once more)
      record(200, [paths.a, paths.c]),
      record(201, [aCopy]),
      record(202, [paths.b]),
      record(203, [paths.c, paths.b]),
      record(204, ["media/posts/large.png"]),
      record(205, ["media/posts/large.png"]),
    ];
    const batchId = await upload({
      [POSTS_FILE]: Buffer.from(JSON.stringify(posts)),
      [paths.a]: a,
      [paths.b]: b,
      [paths.c]: c,
      [aCopy]: a,
      "media/posts/large.png": large,
    });
    proxy.seen.length = 0;
    const log = api.records.length;
    // chunks of 7 posts (seq 60 and 63 fall in two), read 16 at once: shared entries are requested concurrently
    const deps = {
      ...api.deps,
      store,
      features: api.deps.queues.features,
      chunkSize: 7,
      mediaConcurrency: 16,
    };
    expect(await runIngest(batchId, deps)).toEqual({ posts: posts.length });

    const images = proxy.seen.filter((r) => r.includes("/images/"));
    const keys = [a, b, c, large].map((bytes) => `/${imageObjectKey(sha(bytes))}`);
    const calls = (method: string) =>
      images
        .filter((r) => r.startsWith(`${method} `))
        .map((r) => r.slice(r.indexOf("/images/")))
        .sort();
    // a photo-sized image is written outright (content-addressed: writing it again changes nothing); a large one
    // is looked up first
    expect(calls("HEAD")).toEqual([keys[3]]);
    expect(calls("PUT")).toEqual([...keys].sort());
    expect(images).toHaveLength(5);
    const stats = api.records.slice(log).find((r) => r.msg === "export media read");
    // five paths read once each, and `c` once more when a post first used it as its image
    expect(stats).toMatchObject({ reads: 6, lookups: 1, uploads: 4 });

    const rows = await api.deps.db.pool.query<{ seq: number; imageSha256: string; keys: string[] }>(
      `SELECT p.seq, p.image_sha256 AS "imageSha256", array_agg(m.object_key ORDER BY m.position) AS keys
       FROM posts p JOIN media m ON m.post_id = p.id WHERE p.batch_id = $1 GROUP BY p.id ORDER BY p.seq`,
      [batchId],
    );
    expect(rows.rows).toHaveLength(posts.length);
    const bySeq = new Map(rows.rows.map((r) => [r.seq, r]));
    expect(bySeq.get(0)).toMatchObject({ imageSha256: sha(a), keys: [imageObjectKey(sha(a))] });
    expect(bySeq.get(59)).toMatchObject({ imageSha256: sha(b), keys: [imageObjectKey(sha(b))] });
    expect(bySeq.get(60)).toMatchObject({ imageSha256: sha(a), keys: [imageObjectKey(sha(a)), null] });
    expect(bySeq.get(61)).toMatchObject({ imageSha256: sha(a), keys: [imageObjectKey(sha(a))] });
    expect(bySeq.get(63)).toMatchObject({ imageSha256: sha(c), keys: [imageObjectKey(sha(c)), null] });
    for (const bytes of [a, b, c])
      expect(await api.deps.store.get(imageObjectKey(sha(bytes)))).toEqual(bytes);
  });

  it("reads an upload from the copy this host received, and downloads the parts where it has none", async () => {
    const image = png();
    const files = {
      [POSTS_FILE]: Buffer.from(JSON.stringify([record(0, ["media/posts/x.png"]), record(1, [])])),
      "media/posts/x.png": image,
    };
    const deps = { ...api.deps, store, features: api.deps.queues.features };
    const partReads = () => proxy.seen.filter((r) => r.startsWith("GET ") && r.includes("/uploads/"));
    const here = await upload(files);
    proxy.seen.length = 0;
    expect(await runIngest(here, deps)).toEqual({ posts: 2 });
    expect(partReads()).toEqual([]);
    // the copy goes with the ingest
    expect(existsSync(join(api.deps.spool.dir, here))).toBe(false);

    // ingested by another replica: no copy on that host
    const elsewhere = await upload(files);
    await api.deps.spool.remove(elsewhere);
    proxy.seen.length = 0;
    expect(await runIngest(elsewhere, deps)).toEqual({ posts: 2 });
    expect(partReads()).toEqual([
      `GET /${api.deps.store.bucket}/uploads/${api.keyId}/${elsewhere}/part-1.zip`,
    ]);
    for (const batchId of [here, elsewhere]) {
      const row = await api.deps.db.pool.query<{ sha: string }>(
        "SELECT image_sha256 AS sha FROM posts WHERE batch_id = $1 AND seq = 0",
        [batchId],
      );
      expect(row.rows[0]?.sha, batchId).toBe(sha(image));
    }
  });

  it("stores, enqueues and finishes posts while the rest of the export is still being read", async () => {
    const modelId = await seedModel(api);
    const [early, late] = [png(), png()];
    const posts = [
      ...Array.from({ length: 200 }, (_, i) => record(i, ["media/posts/early.png"])),
      ...Array.from({ length: 200 }, (_, i) => record(1000 + i, ["media/posts/late.png"])),
    ];
    const batchId = await upload({
      [POSTS_FILE]: Buffer.from(JSON.stringify(posts)),
      "media/posts/early.png": early,
      "media/posts/late.png": late,
    });
    // the second image's upload waits until the test has seen progress: ingest cannot end before
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const gated = new Proxy(store, {
      get(target, prop) {
        if (prop === "put")
          return async (key: string, ...rest: [Buffer, string]) => {
            if (key === imageObjectKey(sha(late))) await gate;
            return target.put(key, ...rest);
          };
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const features = api.deps.queues.features;
    const ingest = runIngest(batchId, { ...api.deps, store: gated, features, chunkSize: 50 });
    ingest.catch(() => {}); // awaited below

    // a stand-in for the workers: posts whose feature jobs are queued are predicted at once
    const get = async () =>
      (
        await api.app.inject({
          method: "GET",
          url: `/v1/batches/${batchId}`,
          headers: { "x-api-key": api.key },
        })
      ).json();
    let during: { state: string; progress: number; ingest: { postsRead: number; postsTotal: number | null } };
    const deadline = Date.now() + 30_000;
    const enqueued = new Set<number>(); // the ranges' first seqs
    for (;;) {
      const jobs = (await features.getJobs(["waiting"])).filter((j) => j.data.batchId === batchId);
      for (const { data } of jobs) if (isPostRange(data)) enqueued.add(data.fromSeq);
      const ids: string[] = [];
      for (const { data } of jobs)
        if (isPostRange(data))
          ids.push(...(await api.deps.repos.posts.inRange(data, ["pending"])).map((p) => p.id));
      if (ids.length) {
        for (const id of ids) await api.deps.repos.posts.markFeaturized(id, null);
        await api.deps.repos.posts.savePredictions(
          modelId,
          ids.map((postId) => ({ postId, ranked: [{ hashtag: "shared", score: 0.5 }] })),
        );
        await Promise.all(jobs.map((j) => j.remove()));
      }
      during = await get();
      if (during.progress > 0) break;
      if (Date.now() > deadline) throw new Error(`no progress during ingest: ${JSON.stringify(during)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(during.state).toBe("ingesting");
    expect(during.ingest.postsTotal).toBe(400);
    expect(during.ingest.postsRead).toBeGreaterThan(0);
    expect(during.ingest.postsRead).toBeLessThanOrEqual(200); // the late image's posts wait for the gate
    expect(during.progress).toBeGreaterThan(0);
    expect(during.progress).toBeLessThanOrEqual(0.5);
    // the late image's posts (seq 200 on) are stored while its upload waits; their jobs wait for it
    const stored = async () =>
      (
        await api.deps.db.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM posts WHERE batch_id = $1",
          [batchId],
        )
      ).rows[0]!.n;
    await expect.poll(stored, { timeout: 3000 }).toBe(400);
    for (const { data } of await features.getJobs(["waiting"]))
      if (data.batchId === batchId && isPostRange(data)) enqueued.add(data.fromSeq);
    expect(Math.max(...enqueued)).toBeLessThan(200);

    release();
    expect(await ingest).toEqual({ posts: 400 });
    const after = await get();
    expect(after).toMatchObject({
      state: "processing",
      totalPosts: 400,
      ingest: { postsRead: 400, postsTotal: 400 },
    });
    expect(after.progress).toBeGreaterThanOrEqual(during.progress);
  });
});

describe("a chunk writer", () => {
  const api = useTestApi();

  it("adds no jobs for stored chunks still waiting for their images once the batch is refused", async () => {
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      headers: { "x-api-key": api.key },
      payload: uploadForm([{ name: "export.zip", bytes: await zipOf({ [POSTS_FILE]: Buffer.from("[]") }) }]),
    });
    const batchId = res.json().batchId as string;
    const features = api.deps.queues.features;
    const jobsOfBatch = async () =>
      (await features.getJobs(["waiting", "delayed", "prioritized"])).filter(
        (j) => j.data.batchId === batchId,
      );
    const chunk = (from: number) =>
      Array.from({ length: 32 }, (_, i) =>
        buildPost({ seq: from + i, caption: `post ${from + i}`, image: null }),
      );
    let imagesStored!: () => void;
    const waiting = new Promise<void>((r) => {
      imagesStored = r;
    });
    const writer = new ChunkWriter(batchId, api.deps.repos, features);
    await writer.write(chunk(0)); // its images are in S3 already
    await writer.write(chunk(32), waiting);
    await expect.poll(jobsOfBatch, { timeout: 10_000 }).toHaveLength(1);
    writer.abandon(); // e.g. an entry further on is broken: the batch is refused
    imagesStored();
    await writer.finish();
    expect((await jobsOfBatch()).map((j) => j.data)).toEqual([{ batchId, fromSeq: 0, size: 32 }]);
  });
});

function sha(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

// End to end through the real REST API, Redis, Postgres, s3rver and onnxruntime-node, with the three lxtag
// processes running as they do in production. Needs `npm run setup` (npm test runs it first).
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type FeatureJob, QUEUES } from "@lxtag/contracts";
import { createQueue } from "@lxtag/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LxtagClient } from "./client.js";
import { IsolatedPipeline } from "./isolated-pipeline.js";
import { syntheticPosts, writeExportZips } from "./synthetic-export.js";

const t = new IsolatedPipeline({ LXTAG_MAX_WAIT_MS: "20" });
const api = t.client;

beforeAll(() => t.start(), 180_000);
afterAll(() => t.stop());

describe("a multi-part zip export", () => {
  let firstBatch: string;
  let parts: string[];

  it("ends with every post done with hashtags, or failed with a reason; bad media are flagged, not fatal", async () => {
    const posts = await syntheticPosts(24, 3);
    parts = [1, 2].map((i) => join(t.work, `export-${i}.zip`));
    await writeExportZips(posts, parts);
    // a third part with awkward posts: corrupt image bytes, a video, a missing file, a mojibake caption
    const odd = [
      {
        media: [
          { uri: "media/posts/202410/corrupt.jpg", creation_timestamp: 1, title: "broken picture #glitch" },
        ],
      },
      { media: [{ uri: "media/posts/202410/clip", creation_timestamp: 2, title: "a video post #reel" }] },
      {
        media: [{ uri: "media/posts/202410/gone.webp", creation_timestamp: 3, title: "lost media #missing" }],
      },
      {
        title: "Caf\u00c3\u00a9 Ma\u00c3\u00b1ana \u00e2\u0098\u0095 #latteart",
        creation_timestamp: 4,
        media: [{ uri: "media/posts/202410/corrupt2.jpg", creation_timestamp: 4, title: "" }],
      },
    ];
    const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from("ftypmp42"), Buffer.alloc(64)]);
    parts.push(
      await t.zip("export-3.zip", {
        "instagram-user/your_instagram_activity/media/posts_2.json": JSON.stringify(odd),
        "instagram-user/media/posts/202410/corrupt.jpg": Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]),
        "instagram-user/media/posts/202410/corrupt2.jpg": Buffer.from("not an image at all"),
        "instagram-user/media/posts/202410/clip": mp4,
      }),
    );
    firstBatch = await LxtagClient.batchId(await api.uploadZips(parts));
    const summary = await api.waitForBatch(firstBatch);
    expect(summary.state).toBe("done");
    expect(summary.totalPosts).toBe(28);
    expect(summary.warnings).toEqual([
      "1 post: media-missing", // gone.webp
      "1 post: unsupported-media", // corrupt2.jpg is text
      "degraded: 1 post was predicted from the caption alone (1 image-error:corrupt-image)", // broken.jpg
    ]);
    const rows = await api.results(firstBatch);
    expect(rows).toHaveLength(28);
    expect(rows.filter((r) => r.state === "done" && r.hashtags.length === 10)).toHaveLength(28);
    const byCaption = (s: string) => rows.find((r) => r.caption.startsWith(s))!;
    expect(byCaption("broken picture").flags).toEqual(
      expect.arrayContaining(["caption-only", "image-error:corrupt-image"]),
    );
    expect(byCaption("a video post").flags).toEqual(expect.arrayContaining(["video", "caption-only"]));
    expect(byCaption("lost media").flags).toContain("media-missing");
    expect(byCaption("Café Mañana ☕").labels).toEqual(["latteart"]); // mojibake repaired before labels are taken
  }, 180_000);

  it("uploaded again: no duplicate predictions and no detector run for an image already seen", async () => {
    const batchId = await LxtagClient.batchId(await api.uploadZips(parts));
    expect((await api.waitForBatch(batchId)).state).toBe("done");
    const rows = await api.results(batchId);
    const features = createQueue<FeatureJob>(QUEUES.features, t.env.LXTAG_REDIS_URL, t.prefix);
    // the batch's feature jobs (ranges of posts), and what they did to their posts; a job is marked completed just
    // after it handed its posts on, so the batch may be done a moment before the last one is
    const outcomes = async () => {
      const sum: Record<string, number> = {};
      for (const job of await features.getJobs(["completed"]))
        if (job.data.batchId === batchId)
          for (const [outcome, n] of Object.entries(job.returnvalue.posts as Record<string, number>))
            sum[outcome] = (sum[outcome] ?? 0) + n;
      return sum;
    };
    await expect.poll(outcomes).toMatchObject({ cached: 24 });
    expect((await outcomes()).detected ?? 0).toBe(0);
    await features.close();
    const dup = await t.db.pool.query(
      "SELECT post_id, model_version_id, cardinality(hashtags) FROM predictions WHERE post_id = ANY($1::uuid[]) AND cardinality(hashtags) <> 10",
      [rows.map((r) => r.id)],
    );
    expect(dup.rows).toEqual([]);
  }, 180_000);

  it("a key sees only its own batches and posts", async () => {
    expect((await api.get(`/v1/batches/${firstBatch}`, t.otherKey)).status).toBe(404);
    expect((await fetch(`${api.baseUrl}/v1/batches/${firstBatch}`)).status).toBe(401);
    const page = (await (await api.get(`/v1/batches/${firstBatch}/posts?state=done&limit=5`)).json()) as {
      posts: { id: string }[];
      nextCursor: number;
    };
    expect(page.posts).toHaveLength(5);
    expect(page.nextCursor).toBeGreaterThan(0);
    expect((await api.get(`/v1/posts/${page.posts[0]!.id}`)).status).toBe(200);
    expect((await api.get(`/v1/posts/${page.posts[0]!.id}`, t.otherKey)).status).toBe(404);
  });

  it("workers report job durations by outcome and micro-batch sizes to Prometheus", async () => {
    const features = await (await fetch(t.stack.metricsUrl("feature-worker"))).text();
    const cached = /lxtag_feature_post_seconds_count\{[^}]*outcome="cached"[^}]*\} (\d+)/.exec(features);
    expect(Number(cached?.[1])).toBeGreaterThanOrEqual(24); // the re-upload's, and earlier runs' cached images
    const predict = await (await fetch(t.stack.metricsUrl("predict-worker"))).text();
    const batches = Number(/lxtag_predict_batch_size_count\{[^}]*\} (\d+)/.exec(predict)?.[1]);
    const posts = Number(/lxtag_predict_batch_size_sum\{[^}]*\} (\d+)/.exec(predict)?.[1]);
    expect(posts).toBeGreaterThanOrEqual(56); // both uploads' 28 posts
    expect(batches).toBeLessThan(posts); // micro-batching happened
  });

  it("reports queue backlogs for autoscalers, to an admin key only", async () => {
    expect((await fetch(`${api.baseUrl}/queues`)).status).toBe(401);
    const auth = { authorization: `Bearer ${t.adminKey}` };
    const queues = (await (await fetch(`${api.baseUrl}/queues`, { headers: auth })).json()) as Record<
      string,
      { backlog: number }
    >;
    expect(Object.keys(queues).sort()).toEqual(["features", "ingest", "predict", "training"]);
    expect(queues.features!.backlog).toBe(0); // the batches above are done
  });

  it("takes human labels and exports CSV", async () => {
    const [post] = (await api.results(firstBatch)).filter((r) => r.caption.startsWith("broken picture"));
    const res = await api.postJson(`/v1/posts/${post!.id}/labels`, { add: ["#Sunset"], remove: ["glitch"] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { labels: string[] }).labels).toEqual(["sunset"]);
    const csv = await (await api.get(`/v1/batches/${firstBatch}/results?format=csv`)).text();
    const lines = csv.trim().split("\n");
    expect(lines[0]).toBe(
      "post_id,external_id,seq,taken_at,media_uris,state,error,rank,hashtag,score,in_caption,model_version",
    );
    expect(lines).toHaveLength(1 + 28 * 10);
  });
});

describe("bad input gets a specific error and the services keep running", () => {
  const rejected = async (paths: string[]) => {
    const s = await api.waitForBatch(await LxtagClient.batchId(await api.uploadZips(paths)));
    expect(s.state).toBe("failed");
    return s.error ?? "";
  };

  it("not a zip", async () => {
    const p = join(t.work, "nota.zip");
    await writeFile(p, "hello, this is text");
    expect(await rejected([p])).toMatch(/^not-a-zip/);
  });
  it("a zip without any posts file", async () => {
    const p = await t.zip("noposts.zip", { "your_instagram_activity/subscriptions/reels.json": "{}" });
    expect(await rejected([p])).toMatch(/^no-posts-file/);
  });
  it("a truncated zip", async () => {
    const p = await t.zip("full.zip", { "content/posts_1.json": "[]".padEnd(5000, " ") });
    const bytes = await readFile(p);
    await writeFile(p, bytes.subarray(0, bytes.length - 30));
    expect(await rejected([p])).toMatch(/^(truncated-zip|not-a-zip)/);
  });
  it("path-traversal entry names", async () => {
    // zip writers refuse such names, so write a harmless one of the same length and patch the bytes
    const p = await t.zip("traversal.zip", { "content/posts_1.json": "[]", "x/aa/aa/etc/passwd": "root" });
    const bytes = (await readFile(p))
      .toString("latin1")
      .replaceAll("x/aa/aa/etc/passwd", "x/../../etc/passwd");
    await writeFile(p, Buffer.from(bytes, "latin1"));
    expect(await rejected([p])).toMatch(/^unsafe-path/);
  });
  it("a zip bomb", async () => {
    const p = await t.zip("bomb.zip", {
      "content/posts_1.json": "[]",
      "media/posts/bomb.jpg": Buffer.alloc(50 * 2 ** 20),
    });
    expect(await rejected([p])).toMatch(/^zip-bomb/);
  });
  it("invalid JSON in the posts file", async () => {
    expect(await rejected([await t.zip("badjson.zip", { "content/posts_1.json": "[{not json" })])).toMatch(
      /^invalid-json/,
    );
  });
  it("a JSON batch: wrong field types, an empty caption, a 1 MB caption fail alone; the rest are done", async () => {
    const res = await api.postJson("/v1/batches", {
      posts: [
        { caption: 42 },
        { caption: "" },
        { caption: "x".repeat(2 ** 20) },
        { caption: "my dog at the beach #dog" },
      ],
    });
    const batchId = await LxtagClient.batchId(res);
    expect((await api.waitForBatch(batchId)).state).toBe("done");
    const rows = await api.results(batchId);
    expect(rows.map((r) => [r.state, r.error?.split(":")[0] ?? null])).toEqual([
      ["failed", "invalid-post"],
      ["failed", "empty-post"],
      ["failed", "caption-too-long"],
      ["done", null],
    ]);
    expect((await fetch(`${api.baseUrl}/readyz`)).status).toBe(200);
  }, 60_000);
  it("identical posts within a batch (same caption, same image) are one post", async () => {
    // an image URL the feature worker refuses to fetch (a loopback address), without connecting
    const same = { caption: "twice #dup", image: "https://127.0.0.1:9/not-there.png" };
    const batchId = await LxtagClient.batchId(
      await api.postJson("/v1/batches", { posts: [same, same, { ...same, caption: "other" }] }),
    );
    const summary = await api.waitForBatch(batchId);
    expect(summary.totalPosts).toBe(2);
    // predicted from the caption, flagged
    expect(
      (await api.results(batchId)).map((r) => [r.state, r.flags.includes("image-error:unreachable")]),
    ).toEqual([
      ["done", true],
      ["done", true],
    ]);
  });
  it("serves OpenAPI with the request schemas", async () => {
    const spec = (await (await fetch(`${api.baseUrl}/docs/json`)).json()) as {
      paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { name: string }[] }>>;
    };
    expect(spec.paths["/v1/batches"]!.post!.requestBody).toBeDefined();
    expect(spec.paths["/v1/batches/{id}/posts"]!.get!.parameters!.map((p) => p.name)).toEqual(
      expect.arrayContaining(["state", "cursor", "limit"]),
    );
  });
  it("a malformed JSON body is a 400 naming the problem", async () => {
    const res = await api.postJson("/v1/batches", { posts: "nope" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/posts/);
  });
});

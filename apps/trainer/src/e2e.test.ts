// End to end through the real REST API, Redis, Postgres, s3rver and onnxruntime-node, with the three lxtag
// processes running as they do in production. Needs `npm run setup` (npm test runs it first).
import { randomUUID } from "node:crypto";
import { openAsBlob } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jobIds, QUEUES } from "@lxtag/contracts";
import { createDb, repositories } from "@lxtag/db";
import { createQueue, parseEnv, serviceEnvSchema, storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { writeWordPieceTokenizer } from "@lxtag/text";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import yazl from "yazl";
import { LocalStack } from "./demo/stack.js";
import { ensureDetector } from "./detector-bundle.js";
import { runEngine } from "./engine.js";
import { publishModel } from "./publish.js";
import { syntheticPosts, writeExportZips } from "./synthetic-export.js";

const env = parseEnv(serviceEnvSchema, process.env);
const prefix = `lxtag-test-${randomUUID().slice(0, 8)}`; // fresh queues per run
const KEY = `key-a-${randomUUID()}`;
const OTHER_KEY = `key-b-${randomUUID()}`;
const db = createDb(env.DATABASE_URL);
const repos = repositories(db);
const store = new ObjectStore(storeOptions(env));
let stack: LocalStack;
let work: string;

async function zipOf(entries: Record<string, Buffer | string>, path: string): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const [name, body] of Object.entries(entries)) zip.addBuffer(Buffer.from(body), name);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  await writeFile(path, Buffer.concat(chunks));
  return path;
}

async function upload(paths: string[], key = KEY): Promise<Response> {
  const form = new FormData();
  for (const p of paths) form.append("file", await openAsBlob(p), p.split("/").pop());
  return fetch(`${stack.baseUrl}/v1/batches`, { method: "POST", headers: { "x-api-key": key }, body: form });
}

const get = (path: string, key = KEY) => fetch(`${stack.baseUrl}${path}`, { headers: { "x-api-key": key } });

async function waitForBatch(batchId: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = (await (await get(`/v1/batches/${batchId}`)).json()) as {
      state: string;
      totalPosts: number;
      counts: Record<string, number>;
      error: string | null;
      warnings: string[];
    };
    if (s.state === "done" || s.state === "failed") return s;
    if (Date.now() > deadline)
      throw new Error(
        `batch ${batchId} still ${s.state}: ${JSON.stringify(s)}\n${stack.logs.slice(-20).join("\n")}`,
      );
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function results(batchId: string) {
  const text = await (await get(`/v1/batches/${batchId}/results`)).text();
  return text
    .trim()
    .split("\n")
    .map(
      (l) =>
        JSON.parse(l) as {
          id: string;
          state: string;
          error: string | null;
          flags: string[];
          caption: string;
          hashtags: { hashtag: string; score: number }[];
        },
    );
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "lxtag-e2e-"));
  await store.ensureBucket();
  const { id: detectorId } = await ensureDetector(store, env.LXTAG_CACHE_DIR);
  const active = await repos.models.active();
  if (!active || active.detectorId !== detectorId) {
    // a random-weight model is enough to prove the pipeline; learning is the engine's tests' business
    const dir = join(work, "model");
    const tokenizer = join(work, "tokenizer.json");
    writeWordPieceTokenizer(["a red sunset over the ocean with my dog"], tokenizer, 200);
    await runEngine([
      "random-model",
      "--out",
      dir,
      "--hashtags",
      "12",
      "--detector",
      detectorId,
      "--config",
      '{"vocab_size": 200}',
    ]);
    await publishModel(store, repos, dir, tokenizer);
  }
  stack = new LocalStack(18_000 + Math.floor(Math.random() * 1000), {
    LXTAG_QUEUE_PREFIX: prefix,
    LXTAG_API_KEYS: `a:${KEY},b:${OTHER_KEY}`,
    LXTAG_MAX_WAIT_MS: "20",
  });
  await stack.startAll();
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  store.destroy();
  await db.close();
});

describe("a multi-part zip export", () => {
  let firstBatch: string;
  let parts: string[];

  it("ends with every post done with hashtags, or failed with a reason; bad media are flagged, not fatal", async () => {
    const posts = await syntheticPosts(24, 3);
    parts = [1, 2].map((i) => join(work, `export-${i}.zip`));
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
      await zipOf(
        {
          "instagram-user/your_instagram_activity/media/posts_2.json": JSON.stringify(odd),
          "instagram-user/media/posts/202410/corrupt.jpg": Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]),
          "instagram-user/media/posts/202410/corrupt2.jpg": Buffer.from("not an image at all"),
          "instagram-user/media/posts/202410/clip": mp4,
        },
        join(work, "export-3.zip"),
      ),
    );
    const res = await upload(parts);
    expect(res.status).toBe(202);
    firstBatch = ((await res.json()) as { batchId: string }).batchId;
    const summary = await waitForBatch(firstBatch);
    expect(summary.state).toBe("done");
    expect(summary.totalPosts).toBe(28);
    expect(summary.warnings).toEqual(["1 post: media-missing", "1 post: unsupported-media"]); // gone.webp; corrupt2.jpg is text
    const rows = await results(firstBatch);
    expect(rows).toHaveLength(28);
    for (const r of rows) {
      if (r.state === "done") expect(r.hashtags.length).toBe(10);
      else expect(r.state === "failed" && r.error).toBeTruthy();
    }
    const byCaption = (s: string) => rows.find((r) => r.caption.startsWith(s))!;
    expect(byCaption("broken picture").flags).toEqual(
      expect.arrayContaining(["caption-only", "image-error:corrupt-image"]),
    );
    expect(byCaption("a video post").flags).toEqual(expect.arrayContaining(["video", "caption-only"]));
    expect(byCaption("lost media").flags).toContain("media-missing");
    expect(byCaption("Café Mañana ☕").state).toBe("done"); // mojibake repaired
    expect(rows.filter((r) => r.state === "done")).toHaveLength(28);
  }, 180_000);

  it("uploaded again: no duplicate predictions and no detector run for an image already seen", async () => {
    const res = await upload(parts);
    const batchId = ((await res.json()) as { batchId: string }).batchId;
    expect((await waitForBatch(batchId)).state).toBe("done");
    const rows = await results(batchId);
    const features = createQueue(QUEUES.features, env.LXTAG_REDIS_URL, prefix);
    const outcomes = await Promise.all(
      rows.map(async (r) => (await features.getJob(jobIds.features(r.id)))?.returnvalue?.outcome),
    );
    await features.close();
    expect(outcomes.filter((o) => o === "detected")).toHaveLength(0);
    expect(outcomes.filter((o) => o === "cached").length).toBe(24);
    const dup = await db.pool.query(
      "SELECT post_id, model_version_id, count(*) FROM predictions WHERE post_id = ANY($1::uuid[]) GROUP BY 1, 2 HAVING count(*) <> 10",
      [rows.map((r) => r.id)],
    );
    expect(dup.rows).toEqual([]);
  }, 180_000);

  it("a key sees only its own batches", async () => {
    expect((await get(`/v1/batches/${firstBatch}`, OTHER_KEY)).status).toBe(404);
    expect((await fetch(`${stack.baseUrl}/v1/batches/${firstBatch}`)).status).toBe(401);
    expect((await get(`/v1/batches/${firstBatch}/posts?state=done&limit=5`)).status).toBe(200);
  });
});

describe("bad input gets a specific error and the services keep running", () => {
  const rejected = async (paths: string[]) => {
    const res = await upload(paths);
    expect(res.status).toBe(202);
    const s = await waitForBatch(((await res.json()) as { batchId: string }).batchId);
    expect(s.state).toBe("failed");
    return s.error ?? "";
  };

  it("not a zip", async () => {
    const p = join(work, "nota.zip");
    await writeFile(p, "hello, this is text");
    expect(await rejected([p])).toMatch(/^not-a-zip/);
  });
  it("a zip without any posts file", async () => {
    expect(
      await rejected([
        await zipOf({ "your_instagram_activity/subscriptions/reels.json": "{}" }, join(work, "noposts.zip")),
      ]),
    ).toMatch(/^no-posts-file/);
  });
  it("a truncated zip", async () => {
    const p = await zipOf({ "content/posts_1.json": "[]".padEnd(5000, " ") }, join(work, "full.zip"));
    const bytes = await (await import("node:fs/promises")).readFile(p);
    await writeFile(p, bytes.subarray(0, bytes.length - 30));
    expect(await rejected([p])).toMatch(/^(truncated-zip|not-a-zip)/);
  });
  it("path-traversal entry names", async () => {
    // zip writers refuse such names, so write a harmless one of the same length and patch the bytes
    const p = await zipOf(
      { "content/posts_1.json": "[]", "x/aa/aa/etc/passwd": "root" },
      join(work, "traversal.zip"),
    );
    const fs = await import("node:fs/promises");
    const bytes = (await fs.readFile(p))
      .toString("latin1")
      .replaceAll("x/aa/aa/etc/passwd", "x/../../etc/passwd");
    await fs.writeFile(p, Buffer.from(bytes, "latin1"));
    expect(await rejected([p])).toMatch(/^unsafe-path/);
  });
  it("a zip bomb", async () => {
    const p = await zipOf(
      { "content/posts_1.json": "[]", "media/posts/bomb.jpg": Buffer.alloc(50 * 2 ** 20) },
      join(work, "bomb.zip"),
    );
    expect(await rejected([p])).toMatch(/^zip-bomb/);
  });
  it("invalid JSON in the posts file", async () => {
    expect(
      await rejected([await zipOf({ "content/posts_1.json": "[{not json" }, join(work, "badjson.zip"))]),
    ).toMatch(/^invalid-json/);
  });
  it("a JSON batch: wrong field types, an empty caption, a 1 MB caption fail alone; the rest are done", async () => {
    const res = await fetch(`${stack.baseUrl}/v1/batches`, {
      method: "POST",
      headers: { "x-api-key": KEY, "content-type": "application/json" },
      body: JSON.stringify({
        posts: [
          { caption: 42 },
          { caption: "" },
          { caption: "x".repeat(2 ** 20) },
          { caption: "my dog at the beach #dog" },
        ],
      }),
    });
    expect(res.status).toBe(202);
    const batchId = ((await res.json()) as { batchId: string }).batchId;
    expect((await waitForBatch(batchId)).state).toBe("done");
    const rows = await results(batchId);
    expect(rows.map((r) => [r.state, r.error?.split(":")[0] ?? null])).toEqual([
      ["failed", "invalid-post"],
      ["failed", "empty-post"],
      ["failed", "caption-too-long"],
      ["done", null],
    ]);
    expect((await fetch(`${stack.baseUrl}/readyz`)).status).toBe(200);
  }, 60_000);
  it("a malformed JSON body is a 400 naming the problem", async () => {
    const res = await fetch(`${stack.baseUrl}/v1/batches`, {
      method: "POST",
      headers: { "x-api-key": KEY, "content-type": "application/json" },
      body: JSON.stringify({ posts: "nope" }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/posts/);
  });
});

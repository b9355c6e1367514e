// `npm run bench`: throughput of the hot paths on this machine, printed as rates and ratios.
// `npm run bench -- --json` ends with one {"name", "value", "unit"} object per line.
import { randomUUID } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runIngest } from "@lxtag/api";
import { type FeatureJob, QUEUES } from "@lxtag/contracts";
import { type NewPost, postId } from "@lxtag/db";
import { HashtagModel, Predictor } from "@lxtag/predict-worker";
import { addBulkChunked, createLogger, createQueue } from "@lxtag/runtime";
import { writeWordPieceTokenizer } from "@lxtag/text";
import {
  IsolatedPipeline,
  LxtagClient,
  publishModel,
  runEngine,
  syntheticPosts,
  writeExportZips,
} from "@lxtag/trainer";
import yazl from "yazl";

const jsonOut = process.argv.includes("--json");
const INGEST_POSTS = Number(process.env.LXTAG_BENCH_INGEST_POSTS ?? 20_000);
const PREDICT_POSTS = Number(process.env.LXTAG_BENCH_PREDICT_POSTS ?? 256);
const results: { name: string; value: number; unit: string }[] = [];
const say = (s: string) => (jsonOut ? process.stderr.write(`${s}\n`) : console.log(s));
const report = (name: string, value: number, unit: string, detail = "") => {
  const rounded = Math.round(value * 100) / 100;
  results.push({ name, value: rounded, unit });
  say(`${name.padEnd(34)} ${String(rounded).padStart(10)} ${unit}${detail ? `   (${detail})` : ""}`);
};
const seconds = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
};

const pipeline = new IsolatedPipeline({ LXTAG_LOG_LEVEL: "error" });
await pipeline.start();
const { repos, store, db, env } = pipeline;
const log = createLogger("bench", "error");
const work = await mkdtemp(join(tmpdir(), "lxtag-bench-"));
const apiKeyId = (await repos.apiKeys.verify(pipeline.key))!;

try {
  // 1. ingest: a Meta-layout export of captions without images: parse, persist, enqueue
  say(`== ingest of a ${INGEST_POSTS}-post JSON export without images`);
  const words = ["sunset", "coffee", "trip", "dog", "dinner", "beach", "friends", "city", "morning", "snow"];
  const entries = Array.from({ length: INGEST_POSTS }, (_, i) => ({
    title: `post ${i} ${words[i % 10]} with ${words[(i * 7) % 10]} #${words[(i * 3) % 10]} #${words[(i * 5) % 10]}`,
    creation_timestamp: 1_700_000_000 + i,
    media: [],
  }));
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(JSON.stringify(entries)), "your_instagram_activity/media/posts_1.json");
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  const key = `bench/${randomUUID()}/part-1.zip`;
  await store.put(key, Buffer.concat(chunks));
  const batchId = randomUUID();
  await repos.batches.create(batchId, apiKeyId, { type: "zip", keys: [key] }, {});
  const ingestQueue = createQueue<FeatureJob>(
    QUEUES.features,
    env.LXTAG_REDIS_URL,
    `lxtag-bench-${randomUUID().slice(0, 8)}`,
  );
  const ingestS = await seconds(() => runIngest(batchId, { repos, store, features: ingestQueue, log }));
  const ingestRate = INGEST_POSTS / ingestS;
  report("ingest_posts_per_s", ingestRate, "posts/s", `${ingestS.toFixed(2)} s`);
  const addQueue = createQueue<FeatureJob>(
    QUEUES.features,
    env.LXTAG_REDIS_URL,
    `lxtag-bench-${randomUUID().slice(0, 8)}`,
  );
  const jobs = Array.from({ length: INGEST_POSTS }, (_, i) => {
    const id = postId(batchId, String(i));
    return { name: "features", data: { batchId, postId: id }, opts: { jobId: `features-${id}` } };
  });
  const addS = await seconds(() => addBulkChunked(addQueue, jobs));
  report(
    "addbulk_jobs_per_s",
    INGEST_POSTS / addS,
    "jobs/s",
    "raw BullMQ addBulk, same chunking, same Redis",
  );
  report("ingest_vs_addbulk_ratio", ingestRate / (INGEST_POSTS / addS), "ratio", "target >= 0.3");
  for (const q of [ingestQueue, addQueue]) {
    await q.obliterate({ force: true });
    await q.close();
  }

  // 2. predict: the predict worker's micro-batching against batch size 1, same model, same posts
  say(`== predict: ${PREDICT_POSTS} posts, micro-batched (32) vs one at a time`);
  const modelDir = join(work, "model");
  await runEngine([
    "random-model",
    "--out",
    modelDir,
    "--preset",
    "base",
    "--hashtags",
    "50",
    "--config",
    JSON.stringify({ vocab_size: 1000, l_layers: 2, x_layers: 2, r_layers: 2 }),
  ]);
  const tokenizer = join(work, "tokenizer.json");
  writeWordPieceTokenizer(
    entries.slice(0, 2000).map((e) => e.title),
    tokenizer,
    1000,
  );
  await publishModel(store, repos, modelDir, tokenizer, false); // registered (predictions reference it), not served
  const model = await HashtagModel.load(modelDir, { intraOpThreads: 2 });
  const predictBatch = randomUUID();
  await repos.batches.create(predictBatch, apiKeyId, { type: "json", key: "bench" }, {});
  const posts: NewPost[] = entries.slice(0, PREDICT_POSTS).map((e, i) => ({
    seq: i,
    externalId: null,
    dedupKey: `p${i}`,
    kind: "post",
    sourceFile: null,
    caption: e.title,
    modelText: e.title,
    takenAt: null,
    takenAtRaw: null,
    flags: [],
    imageKey: null,
    imageSha256: null,
    media: [],
    hashtags: [],
    failReason: null,
  }));
  const ids = await repos.posts.insertMany(predictBatch, posts);
  const runPredict = async (maxBatchSize: number) => {
    await db.pool.query("UPDATE posts SET state = 'predicting' WHERE batch_id = $1", [predictBatch]);
    const predictor = new Predictor(
      { repos, store, log, topK: 10, model: () => model },
      { maxBatchSize, maxWaitMs: 5 },
    );
    return PREDICT_POSTS / (await seconds(() => Promise.all(ids.map((id) => predictor.predict(id)))));
  };
  await runPredict(32); // warm-up: session, caches, JIT
  const batched = await runPredict(32);
  const single = await runPredict(1);
  report("predict_posts_per_s_batched", batched, "posts/s", "base width, 2/2/2 layers, max batch 32");
  report("predict_posts_per_s_single", single, "posts/s", "batch size 1");
  report("predict_batched_vs_single_ratio", batched / single, "ratio", "target >= 3");
  await model.dispose();

  // 3. end to end: the demo's export through the REST API and both workers, upload to last prediction
  say("== end to end: a 320-post export in three zip parts, upload to last prediction");
  const parts = [1, 2, 3].map((i) => join(work, `e2e-${i}.zip`));
  await writeExportZips(await syntheticPosts(320, 99 + Date.now()), parts);
  const api = pipeline.client;
  const e2eS = await seconds(async () =>
    api.waitForBatch(await LxtagClient.batchId(await api.uploadZips(parts)), { intervalMs: 100 }),
  );
  report(
    "e2e_posts_per_s",
    320 / e2eS,
    "posts/s",
    `${e2eS.toFixed(1)} s for 320 posts, images new to the RoI cache`,
  );
} finally {
  await pipeline.stop();
}
if (jsonOut) for (const r of results) console.log(JSON.stringify(r));

// `npm run bench`: throughput of the hot paths on this machine, printed as rates and ratios.
// `npm run bench -- --json` ends with one {"name", "value", "unit"} object per line.
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runIngest } from "@lxtag/api";
import { FEATURE_DIM, type FeatureJob, NUM_BOXES, QUEUES, roiCacheKey } from "@lxtag/contracts";
import { postId } from "@lxtag/db";
import { ensureRoi } from "@lxtag/feature-worker";
import { OrtSession } from "@lxtag/inference";
import { HashtagModel, Predictor } from "@lxtag/predict-worker";
import { addBulkChunked, createLogger, createQueue } from "@lxtag/runtime";
import { encodeRoi } from "@lxtag/storage";
import { writeWordPieceTokenizer } from "@lxtag/text";
import {
  IsolatedPipeline,
  LxtagClient,
  publishModel,
  runEngine,
  syntheticPosts,
  writeExportZips,
} from "@lxtag/trainer";
import { Detector, decodeImage } from "@lxtag/vision";
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
  // a batch whose upload is a one-part zip holding these posts in the Meta JSON layout
  const uploadBatch = async (posts: object[]): Promise<string> => {
    const zip = new yazl.ZipFile();
    zip.addBuffer(Buffer.from(JSON.stringify(posts)), "your_instagram_activity/media/posts_1.json");
    zip.end();
    const chunks: Buffer[] = [];
    for await (const c of zip.outputStream) chunks.push(c as Buffer);
    const key = `bench/${randomUUID()}/part-1.zip`;
    await store.put(key, Buffer.concat(chunks));
    const id = randomUUID();
    await repos.batches.create(id, apiKeyId, { type: "zip", keys: [key] }, {});
    return id;
  };
  const ingestQueue = createQueue<FeatureJob>(
    QUEUES.features,
    env.LXTAG_REDIS_URL,
    `lxtag-bench-${randomUUID().slice(0, 8)}`,
  );
  // a 2,000-post warm-up first: what is measured is a warm, long-running API process, not a cold start
  await runIngest(await uploadBatch(entries.slice(0, 2000)), { repos, store, features: ingestQueue, log });
  await ingestQueue.obliterate({ force: true });
  const batchId = await uploadBatch(entries);
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

  // 2. predict: the predict worker's micro-batching against batch size 1, same model, same posts with RoI
  //    features in S3. Like the worker, as many posts are in flight as one micro-batch holds.
  const predictPosts = entries.slice(0, PREDICT_POSTS);
  const tokenizer = join(work, "tokenizer.json");
  writeWordPieceTokenizer(
    predictPosts.map((e) => e.title),
    tokenizer,
    1000,
  );
  const roi = encodeRoi({
    detectorId: "bench",
    imageWidth: 640,
    imageHeight: 480,
    numRealBoxes: 36,
    features: Float32Array.from({ length: NUM_BOXES * FEATURE_DIM }, (_, i) => (i % 13) / 13),
    boxes: Float32Array.from({ length: NUM_BOXES * 4 }, (_, i) => (i % 4) / 4),
    scores: new Float32Array(NUM_BOXES).fill(1),
  });
  const shas = Array.from({ length: 16 }, (_, i) =>
    createHash("sha256").update(`bench-image-${i}`).digest("hex"),
  );
  for (const sha of shas) await store.put(roiCacheKey("bench", sha), roi);
  const predictBatch = randomUUID();
  await repos.batches.create(predictBatch, apiKeyId, { type: "json", key: "bench" }, {});
  const ids = await repos.posts.insertMany(
    predictBatch,
    predictPosts.map((e, i) => ({
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
      imageSha256: shas[i % shas.length]!,
      media: [],
      hashtags: [],
      failReason: null,
    })),
  );
  const benchPredict = async (label: string, preset: string, config: object) => {
    const modelDir = join(work, `model-${label}`);
    await runEngine([
      "random-model",
      "--out",
      modelDir,
      "--preset",
      preset,
      "--hashtags",
      "50",
      "--detector",
      "bench",
      "--config",
      JSON.stringify({ vocab_size: 1000, ...config }),
    ]);
    await publishModel(store, repos, modelDir, tokenizer, false); // registered (predictions reference it), not served
    const model = await HashtagModel.load(modelDir, { intraOpThreads: 2 });
    const rate = async (maxBatchSize: number) => {
      await db.pool.query("UPDATE posts SET state = 'predicting' WHERE batch_id = $1", [predictBatch]);
      const predictor = new Predictor(
        { repos, store, log, topK: 10, model: () => model },
        { maxBatchSize, maxWaitMs: 5 },
      );
      const queue = [...ids];
      const worker = async () => {
        for (let id = queue.shift(); id; id = queue.shift()) await predictor.predict(id);
      };
      return PREDICT_POSTS / (await seconds(() => Promise.all(Array.from({ length: maxBatchSize }, worker))));
    };
    await rate(32); // warm-up: session, caches
    const batched = await rate(32);
    const single = await rate(1);
    await model.dispose();
    return { batched, single };
  };
  say(`== predict: ${PREDICT_POSTS} posts with RoI features, micro-batched (32 in flight) vs one at a time`);
  const tiny = await benchPredict("tiny", "tiny", {});
  report(
    "predict_posts_per_s_batched",
    tiny.batched,
    "posts/s",
    "tiny LXMERT4Hashtag (the demo's size), batch 32",
  );
  report("predict_posts_per_s_single", tiny.single, "posts/s", "tiny, batch size 1");
  report("predict_batched_vs_single_ratio", tiny.batched / tiny.single, "ratio", "target >= 3");
  const base = await benchPredict("base", "base", { l_layers: 2, x_layers: 2, r_layers: 2 });
  report("predict_posts_per_s_batched_base", base.batched, "posts/s", "768 hidden, 2/2/2 layers, batch 32");
  report(
    "predict_batched_vs_single_ratio_base",
    base.batched / base.single,
    "ratio",
    "compute-bound on 2 CPU cores",
  );

  // 3. the exported graph in onnxruntime-node against PyTorch eager, batch 32, same checkpoint and thread count
  say("== ONNX Runtime (Node) vs PyTorch eager, batch 32, 32 tokens, 2 threads");
  for (const label of ["tiny", "base"]) {
    const dir = join(work, `model-${label}`);
    const torchSpeed = JSON.parse(
      (
        await runEngine(
          ["speed", "--checkpoint", join(dir, "checkpoint.pt"), "--iters", label === "tiny" ? "20" : "5"],
          undefined,
          label === "base" ? { OPENBLAS_NUM_THREADS: "2" } : {},
        )
      ).trim(),
    ) as { posts_per_s: number };
    const session = await OrtSession.create(join(dir, "model.onnx"), { intraOpThreads: 2 });
    const feeds = () => ({
      input_ids: {
        type: "int64" as const,
        dims: [32, 32],
        data: BigInt64Array.from({ length: 1024 }, (_, i) => BigInt(5 + (i % 900))),
      },
      attention_mask: { type: "int64" as const, dims: [32, 32], data: new BigInt64Array(1024).fill(1n) },
      token_type_ids: { type: "int64" as const, dims: [32, 32], data: new BigInt64Array(1024) },
      visual_feats: {
        type: "float32" as const,
        dims: [32, 36, FEATURE_DIM],
        data: new Float32Array(32 * 36 * FEATURE_DIM).fill(0.5),
      },
      visual_pos: {
        type: "float32" as const,
        dims: [32, 36, 4],
        data: new Float32Array(32 * 36 * 4).fill(0.25),
      },
    });
    await session.run(feeds()); // warm-up
    const iters = label === "tiny" ? 20 : 5;
    const ortS = await seconds(async () => {
      for (let i = 0; i < iters; i++) await session.run(feeds());
    });
    await session.dispose();
    const ort = (32 * iters) / ortS;
    report(
      `ort_vs_torch_ratio_${label}`,
      ort / torchSpeed.posts_per_s,
      "ratio",
      `ORT ${ort.toFixed(0)} vs PyTorch ${torchSpeed.posts_per_s.toFixed(0)} posts/s`,
    );
  }

  // 4. training speed of the tiny model on the synthetic dataset (one epoch)
  const synDir = join(work, "synthetic");
  await runEngine(["synthetic", "--out", synDir, "--posts", "1000"]);
  await runEngine([
    "train",
    "--data",
    synDir,
    "--out",
    join(work, "syn-train"),
    "--preset",
    "tiny",
    "--config",
    '{"vocab_size": 40}',
    "--epochs",
    "1",
    "--batch-size",
    "32",
  ]);
  const trainLog = JSON.parse(await readFile(join(work, "syn-train", "train_log.json"), "utf8")) as {
    history: { train_samples_per_s: number }[];
  };
  report(
    "train_samples_per_s_tiny",
    trainLog.history[0]!.train_samples_per_s,
    "samples/s",
    "tiny LXMERT4Hashtag, batch 32, PyTorch on 2 cores",
  );

  // 5. learning on the synthetic dataset: the four architectures at the same size and schedule, F1@2 on its
  // test split (256-d region features, as the engine's learning test uses, to keep this to a few minutes)
  say("== the four architectures on the synthetic dataset (2,000 posts, 20 epochs each)");
  const learnDir = join(work, "learning");
  await runEngine(["synthetic", "--out", join(learnDir, "data"), "--posts", "2000", "--feature-dim", "256"]);
  const learnConfig = JSON.stringify({
    vocab_size: 40,
    hidden_size: 64,
    num_attention_heads: 4,
    intermediate_size: 128,
    initializer_range: 0.05,
    visual_feat_dim: 256,
  });
  const architectures = ["lxmert4hashtag", "concat", "text-only", "popularity"];
  for (const arch of architectures)
    await runEngine([
      "train",
      "--data",
      join(learnDir, "data"),
      "--out",
      join(learnDir, arch),
      "--arch",
      arch,
      "--preset",
      "tiny",
      "--config",
      learnConfig,
      "--epochs",
      "20",
      "--batch-size",
      "32",
      "--lr",
      "5e-4",
      "--patience",
      "20",
    ]);
  await runEngine([
    "evaluate",
    "--data",
    join(learnDir, "data"),
    ...architectures.flatMap((a) => ["--model", `${a}=${join(learnDir, a, "checkpoint.pt")}`]),
    "--out",
    join(learnDir, "evaluation"),
  ]);
  const evaluation = JSON.parse(
    await readFile(join(learnDir, "evaluation", "evaluation.json"), "utf8"),
  ) as Record<string, { metrics: Record<string, { f1: number }>; f1_by_kind: Record<string, number> }>;
  for (const arch of architectures) {
    const r = evaluation[arch]!;
    report(
      `synthetic_f1_at2_${arch.replace("-", "_")}`,
      r.metrics["2"]!.f1,
      "F1@2",
      `relation hashtags F1 ${r.f1_by_kind.relation!.toFixed(2)}, visual ${r.f1_by_kind.visual!.toFixed(2)}, text ${r.f1_by_kind.text!.toFixed(2)}`,
    );
  }

  // 6. the detector on CPU through the serving path (TypeScript preprocessing and selection, both graphs in
  // onnxruntime-node), random weights; then the RoI cache: a miss runs the detector, a hit only reads and hashes
  say("== Faster R-CNN detector on CPU (onnxruntime-node, 2 threads, random weights)");
  const detectorImages = await Promise.all(
    (await syntheticPosts(6, 5)).map(async (p) => decodeImage(p.image)),
  );
  for (const [preset, count] of [
    ["tiny", 6],
    ["r101", 2],
  ] as const) {
    const dir = join(work, `detector-${preset}`);
    await runEngine(["export-detector", "--preset", preset, "--out", dir]);
    const detector = await Detector.load(dir, { intraOpThreads: 2 });
    if (preset === "tiny") await detector.detect(detectorImages[0]!); // warm-up; r101 is slow enough not to need one
    const s = await seconds(async () => {
      for (const image of detectorImages.slice(0, count)) await detector.detect(image);
    });
    const m = detector.manifest;
    report(
      `detector_images_per_s_${preset}_cpu`,
      count / s,
      "images/s",
      `${(s / count).toFixed(2)} s per image; shortest side ${m.input.min_size}, ${m.selection.post_nms_topk} proposals`,
    );
    if (preset === "tiny") {
      const key = `bench/${randomUUID()}.png`;
      // an image no earlier run has seen, so the first call is a real miss
      await store.put(key, (await syntheticPosts(1, Date.now() % 2 ** 31))[0]!.image, "image/jpeg");
      const deps = { store, detector, maxImageBytes: 64 * 2 ** 20, maxImagePixels: 50_000_000 };
      const miss = await seconds(() => ensureRoi(key, deps));
      const hits = 10;
      const hit = await seconds(async () => {
        for (let i = 0; i < hits; i++) await ensureRoi(key, deps);
      });
      report(
        "feature_cache_hit_vs_miss_ratio",
        miss / (hit / hits),
        "ratio",
        `miss ${(miss * 1000).toFixed(0)} ms vs hit ${((hit / hits) * 1000).toFixed(0)} ms, tiny detector`,
      );
    }
    await detector.dispose();
  }

  // 7. end to end: the demo's export through the REST API and both workers, upload to last prediction
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

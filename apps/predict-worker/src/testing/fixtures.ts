// What the predict worker's tests share: the worker started on a fresh queue prefix over a scratch database,
// posts ready for prediction with RoI objects in S3, and readers for what the worker wrote.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FEATURE_DIM, jobIds, NUM_BOXES, type PredictJob, QUEUES, roiCacheKey } from "@lxtag/contracts";
import { createDb, type Db, type NewPost, type Repositories, repositories } from "@lxtag/db";
import { createLogger, createQueue, storeOptions, WorkerMetrics } from "@lxtag/runtime";
import { waitForJob } from "@lxtag/runtime/testing";
import { encodeRoi, ObjectStore, type RoiFeatures } from "@lxtag/storage";
import type { Job, Queue } from "bullmq";
import { loadConfig, type PredictConfig } from "../config.js";
import { type PredictWorker, startPredictWorker } from "../predict-worker.js";

/** RoI tensors of a made-up image: random features, boxes inside the image. */
export function randomRoi(detectorId: string): RoiFeatures {
  const features = new Float32Array(NUM_BOXES * FEATURE_DIM).map(() => Math.random() * 4);
  const boxes = new Float32Array(NUM_BOXES * 4).map((_, i) => (i % 4 < 2 ? 0.5 : 1) * Math.random());
  return {
    detectorId,
    imageWidth: 640,
    imageHeight: 480,
    numRealBoxes: NUM_BOXES,
    features,
    boxes,
    scores: new Float32Array(NUM_BOXES).fill(0.5),
  };
}

export interface PostRow {
  state: string;
  flags: string[];
  error: string | null;
}

export interface PredictionRow {
  model: string;
  rank: number;
  hashtag: string;
  score: number;
}

/**
 * A predict worker over `databaseUrl` (a scratch database: its own model registry) on its own queue prefix.
 * `env` overrides the configuration as the environment would; `s3Endpoint` puts a proxy between it and S3.
 */
export class PredictHarness {
  readonly config: PredictConfig;
  readonly db: Db;
  readonly repos: Repositories;
  /** What the worker uses. */
  readonly store: ObjectStore;
  /** Straight to S3, for the test's own writes. */
  readonly direct: ObjectStore;
  readonly predict: Queue<PredictJob>;
  readonly batchId = randomUUID();
  handle!: PredictWorker;
  private seq = 0;
  private ready: Promise<void> | undefined;

  constructor(databaseUrl: string, env: Record<string, string> = {}, s3Endpoint?: string) {
    this.config = loadConfig({
      ...process.env,
      DATABASE_URL: databaseUrl,
      LXTAG_QUEUE_PREFIX: `lxtag-pw-${randomUUID().slice(0, 8)}`,
      LXTAG_LOG_LEVEL: "silent",
      LXTAG_MODEL_POLL_MS: "100",
      LXTAG_MAX_WAIT_MS: "20",
      LXTAG_MAX_BATCH_SIZE: "8",
      LXTAG_ORT_THREADS: "1",
      LXTAG_TOP_K: "5",
      ...env,
    });
    this.db = createDb(this.config.DATABASE_URL, 4);
    this.repos = repositories(this.db);
    this.direct = new ObjectStore(storeOptions(this.config));
    this.store = new ObjectStore({
      ...storeOptions(this.config),
      endpoint: s3Endpoint ?? this.config.LXTAG_S3_ENDPOINT,
    });
    this.predict = createQueue<PredictJob>(
      QUEUES.predict,
      this.config.LXTAG_REDIS_URL,
      this.config.LXTAG_QUEUE_PREFIX,
    );
  }

  /** The batch the posts belong to (and its API key); once. */
  private prepare(): Promise<void> {
    this.ready ??= (async () => {
      await this.direct.ensureBucket();
      const key = await this.repos.apiKeys.create("predict-worker-test");
      await this.repos.batches.create(this.batchId, key.id, { type: "json", key: "test" }, {});
      await this.repos.batches.markIngested(this.batchId, []);
    })();
    return this.ready;
  }

  /** Starts the worker with its own cache folder (so every model bundle is fetched from S3). */
  async start(): Promise<this> {
    await this.prepare();
    const cacheDir = await mkdtemp(join(tmpdir(), "lxtag-pw-cache-"));
    this.handle = startPredictWorker(
      {
        repos: this.repos,
        store: this.store,
        log: createLogger("predict-worker-test", "silent"),
        metrics: new WorkerMetrics("predict-worker-test"),
      },
      { ...this.config, LXTAG_CACHE_DIR: cacheDir },
    );
    return this;
  }

  /**
   * A post ready for prediction. `roi`: an image whose RoI object for `detector` is uploaded (returned), or
   * `"gone"`: an image whose RoI object does not exist; without it, a caption-only post.
   */
  async post(
    caption: string,
    roi?: { detector: string } | { detector: string; gone: true },
  ): Promise<{ id: string; roi?: RoiFeatures; key?: string }> {
    await this.prepare();
    const seq = this.seq++;
    const sha = roi ? randomBytes(32).toString("hex") : null;
    const post: NewPost = {
      seq,
      externalId: null,
      dedupKey: `post-${seq}`,
      kind: "post",
      sourceFile: null,
      caption,
      modelText: caption,
      takenAt: null,
      takenAtRaw: null,
      flags: [],
      imageKey: null,
      imageSha256: null,
      media: [],
      hashtags: [],
      failReason: null,
    };
    const [id] = await this.repos.posts.insertMany(this.batchId, [post]);
    let features: RoiFeatures | undefined;
    let key: string | undefined;
    if (roi && sha) {
      key = roiCacheKey(roi.detector, sha);
      if (!("gone" in roi)) {
        features = randomRoi(roi.detector);
        await this.direct.put(key, encodeRoi(features));
      }
    }
    await this.repos.posts.markFeaturized(id!, sha);
    return { id: id!, roi: features, key };
  }

  async enqueue(...postIds: string[]): Promise<void> {
    await this.predict.addBulk(
      postIds.map((postId) => ({
        name: "predict",
        data: { batchId: this.batchId, postId },
        opts: { jobId: jobIds.predict(postId) },
      })),
    );
  }

  settled(postId: string, timeoutMs = 30_000): Promise<Job> {
    return waitForJob(this.predict, jobIds.predict(postId), { timeoutMs });
  }

  async row(postId: string): Promise<PostRow> {
    const r = await this.db.pool.query<PostRow>("SELECT state, flags, error FROM posts WHERE id = $1", [
      postId,
    ]);
    const row = r.rows[0]!;
    return { ...row, flags: [...row.flags].sort() }; // stored as a set: its order means nothing
  }

  async predictions(postId: string): Promise<PredictionRow[]> {
    const r = await this.db.pool.query<PredictionRow>(
      `SELECT model_version_id AS model, rank, hashtag, score FROM predictions WHERE post_id = $1
       ORDER BY model_version_id, rank`,
      [postId],
    );
    return r.rows;
  }

  async close(): Promise<void> {
    await this.handle?.close();
    await this.predict.obliterate({ force: true }).catch(() => {});
    await this.predict.close();
    this.store.destroy();
    this.direct.destroy();
    await this.db.close();
  }
}

// What the predict worker's tests share: the worker started on a fresh queue prefix over a scratch database,
// posts ready for prediction with RoI objects in S3, and readers for what the worker wrote.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FEATURE_DIM,
  type FeatureJob,
  NUM_BOXES,
  type PredictJob,
  QUEUES,
  roiCacheKey,
} from "@lxtag/contracts";
import { createLogger, storeOptions, WorkerMetrics } from "@lxtag/runtime";
import { encodeRoi, ObjectStore, type RoiFeatures } from "@lxtag/storage";
import { testEnv, WorkerHarness } from "@lxtag/testkit";
import type { Queue } from "bullmq";
import { loadConfig, type PredictConfig } from "../config.js";
import { type PredictWorker, startPredictWorker } from "../predict-worker.js";
import type { ManyOutcome } from "../predictor.js";

/** What a job of one post's range (as `enqueue` adds them) returns when its post was predicted, or sent back. */
export const ONE_POST: Record<"done" | "refeaturized", ManyOutcome> = {
  done: { done: 1, refeaturized: 0, skipped: 0 },
  refeaturized: { done: 0, refeaturized: 1, skipped: 0 },
};

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
export class PredictHarness extends WorkerHarness<PredictConfig> {
  /** What the worker uses. */
  readonly store: ObjectStore;
  /** Straight to S3, for the test's own writes. */
  readonly direct: ObjectStore;
  readonly predict: Queue<PredictJob> = this.jobs;
  /** Where the worker sends posts back for featurization. */
  readonly features: Queue<FeatureJob> = this.queue<FeatureJob>(QUEUES.features);
  handle!: PredictWorker;
  /** The workers' model caches, removed by `close`. */
  private readonly cacheDirs: string[] = [];
  private ready: Promise<void> | undefined;

  constructor(databaseUrl: string, env: Record<string, string> = {}, s3Endpoint?: string) {
    const overrides = {
      DATABASE_URL: databaseUrl,
      LXTAG_MODEL_POLL_MS: "100",
      LXTAG_MAX_WAIT_MS: "20",
      LXTAG_MAX_BATCH_SIZE: "8",
      LXTAG_ORT_THREADS: "1",
      LXTAG_TOP_K: "5",
    };
    super(loadConfig(testEnv("lxtag-pw", { ...overrides, ...env })), QUEUES.predict);
    this.direct = new ObjectStore(storeOptions(this.config));
    this.store = new ObjectStore({
      ...storeOptions(this.config),
      endpoint: s3Endpoint ?? this.config.LXTAG_S3_ENDPOINT,
    });
  }

  /** The bucket, and the batch the posts belong to with its ingest finished; once. */
  private prepare(): Promise<void> {
    this.ready ??= this.direct.ensureBucket().then(() => this.createBatch({ ingested: true }));
    return this.ready;
  }

  /** Starts the worker with its own cache folder (so every model bundle is fetched from S3). */
  async start(): Promise<this> {
    await this.prepare();
    const cacheDir = await mkdtemp(join(tmpdir(), "lxtag-pw-cache-"));
    this.cacheDirs.push(cacheDir);
    this.handle = startPredictWorker(
      {
        repos: this.repos,
        store: this.store,
        features: this.features,
        log: createLogger("predict-worker-test", "silent"),
        metrics: new WorkerMetrics("predict-worker-test"),
      },
      { ...this.config, LXTAG_CACHE_DIR: cacheDir },
    );
    return this;
  }

  /**
   * A post ready for prediction, with `flags` set while featurizing. `roi`: an image (`sha`) whose RoI object for
   * `detector` is uploaded (returned), or `gone`: an image whose RoI object does not exist; without it, a
   * caption-only post.
   */
  async post(
    caption: string,
    roi?: { detector: string } | { detector: string; gone: true },
    flags: string[] = [],
  ): Promise<{ id: string; roi?: RoiFeatures; key?: string; sha?: string }> {
    await this.prepare();
    const id = await this.insertPost({ caption });
    const sha = roi ? randomBytes(32).toString("hex") : null;
    let features: RoiFeatures | undefined;
    let key: string | undefined;
    if (roi && sha) {
      key = roiCacheKey(roi.detector, sha);
      if (!("gone" in roi)) {
        features = randomRoi(roi.detector);
        await this.direct.put(key, encodeRoi(features));
      }
    }
    await this.repos.posts.markFeaturized(id, sha, flags);
    return { id, roi: features, key, sha: sha ?? undefined };
  }

  /** A post ready for prediction that shows the image `sha` of an earlier post (its RoI object already stored). */
  async sharing(caption: string, sha: string): Promise<{ id: string }> {
    await this.prepare();
    const id = await this.insertPost({ caption });
    await this.repos.posts.markFeaturized(id, sha);
    return { id };
  }

  row(postId: string): Promise<PostRow> {
    return this.postRow(postId, "state, flags, error");
  }

  async predictions(postId: string): Promise<PredictionRow[]> {
    const r = await this.db.pool.query<PredictionRow>(
      `SELECT model_version_id AS model, r.rank::int AS rank, r.hashtag, r.score
       FROM predictions, unnest(hashtags, scores) WITH ORDINALITY r(hashtag, score, rank)
       WHERE post_id = $1 ORDER BY model_version_id, r.rank`,
      [postId],
    );
    return r.rows;
  }

  override async close(): Promise<void> {
    await this.handle?.close();
    this.store.destroy();
    this.direct.destroy();
    for (const dir of this.cacheDirs) await rm(dir, { recursive: true, force: true });
    await super.close();
  }
}

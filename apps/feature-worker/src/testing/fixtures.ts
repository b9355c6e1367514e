// What the feature worker's tests share: a real tiny detector from the engine, a batch of posts in Postgres, and
// the worker itself started on a fresh queue prefix with the test's own dependencies.
import { randomUUID } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type FeatureJob, jobIds, type PredictJob, QUEUES } from "@lxtag/contracts";
import { createDb, type Db, type NewPost, repositories } from "@lxtag/db";
import { createLogger, createQueue, runProcess, storeOptions, WorkerMetrics } from "@lxtag/runtime";
import { waitForJob } from "@lxtag/runtime/testing";
import { ObjectStore } from "@lxtag/storage";
import { Detector } from "@lxtag/vision";
import type { Job, Queue } from "bullmq";
import { type FeatureConfig, loadConfig } from "../config.js";
import { type FeatureWorker, startFeatureWorker } from "../feature-worker.js";

const ENGINE = fileURLToPath(new URL("../../../trainer/engine", import.meta.url));
const PYTHON = process.env.LXTAG_PYTHON ?? "/usr/bin/python3"; // the one with PyTorch, as the trainer's default

/** The tiny Faster R-CNN with random weights, exported by the engine into a fresh folder and loaded. */
export async function tinyDetector(): Promise<Detector> {
  const dir = join(await mkdtemp(join(tmpdir(), "lxtag-fw-")), "detector");
  await runProcess(PYTHON, ["-m", "lxtag_engine", "export-detector", "--preset", "tiny", "--out", dir], {
    env: { PYTHONPATH: ENGINE },
    label: "lxtag_engine export-detector",
  });
  return Detector.load(dir);
}

export interface PostRow {
  state: string;
  flags: string[];
  imageSha256: string | null;
  error: string | null;
}

/**
 * A feature worker on its own queue prefix, over a batch of its own in the shared database. `env` overrides the
 * configuration as the environment would; `s3Endpoint` puts something (a proxy) between the worker and S3.
 */
export class FeatureHarness {
  readonly config: FeatureConfig;
  readonly db: Db;
  readonly repos;
  /** What the worker uses. */
  readonly store: ObjectStore;
  /** Straight to S3, for the test's own reads and writes. */
  readonly direct: ObjectStore;
  readonly features: Queue<FeatureJob>;
  readonly predict: Queue<PredictJob>;
  readonly metrics = new WorkerMetrics("feature-worker-test");
  readonly batchId = randomUUID();
  worker!: FeatureWorker;
  private seq = 0;
  private apiKeyId = "";

  constructor(
    readonly detector: Detector,
    env: Record<string, string> = {},
    s3Endpoint?: string,
  ) {
    this.config = loadConfig({
      ...process.env,
      LXTAG_QUEUE_PREFIX: `lxtag-fw-${randomUUID().slice(0, 8)}`,
      LXTAG_LOG_LEVEL: "silent",
      ...env,
    });
    this.db = createDb(this.config.DATABASE_URL, 4);
    this.repos = repositories(this.db);
    this.direct = new ObjectStore(storeOptions(this.config));
    this.store = new ObjectStore({
      ...storeOptions(this.config),
      endpoint: s3Endpoint ?? this.config.LXTAG_S3_ENDPOINT,
    });
    const { LXTAG_REDIS_URL: redis, LXTAG_QUEUE_PREFIX: prefix } = this.config;
    this.features = createQueue<FeatureJob>(QUEUES.features, redis, prefix);
    this.predict = createQueue<PredictJob>(QUEUES.predict, redis, prefix);
  }

  async start(): Promise<this> {
    await this.direct.ensureBucket();
    this.apiKeyId = (await this.repos.apiKeys.create(`feature-worker-test-${this.batchId}`)).id;
    await this.repos.batches.create(this.batchId, this.apiKeyId, { type: "json", key: "test" }, {});
    this.worker = startFeatureWorker(
      {
        repos: this.repos,
        store: this.store,
        detector: this.detector,
        predict: this.predict,
        log: createLogger("feature-worker-test", "silent"),
        metrics: this.metrics,
      },
      this.config,
    );
    return this;
  }

  /** A pending post whose image is `imageKey` (an S3 key or a URL); with `image`, that key is uploaded first. */
  async post(imageKey: string | null, image?: Buffer): Promise<string> {
    if (image && imageKey) await this.direct.put(imageKey, image);
    const seq = this.seq++;
    const post: NewPost = {
      seq,
      externalId: null,
      dedupKey: `post-${seq}`,
      kind: "post",
      sourceFile: null,
      caption: `post ${seq}`,
      modelText: `post ${seq}`,
      takenAt: null,
      takenAtRaw: null,
      flags: [],
      imageKey,
      imageSha256: null,
      media: [],
      hashtags: [],
      failReason: null,
    };
    const [id] = await this.repos.posts.insertMany(this.batchId, [post]);
    return id!;
  }

  /** Adds the posts' feature jobs at once (so they are in flight together). */
  async enqueue(...postIds: string[]): Promise<void> {
    await this.features.addBulk(
      postIds.map((postId) => ({
        name: "features",
        data: { batchId: this.batchId, postId },
        opts: { jobId: jobIds.features(postId) },
      })),
    );
  }

  /** Failed attempts per job id, as the worker reports them (a retried job fails first). */
  failures(): Map<string, string[]> {
    const seen = new Map<string, string[]>();
    this.worker.worker.on("failed", (job, err) => {
      if (job?.id) seen.set(job.id, [...(seen.get(job.id) ?? []), err.message]);
    });
    return seen;
  }

  /** The post's feature job once it finished, either way. */
  settled(postId: string, timeoutMs = 30_000): Promise<Job> {
    return waitForJob(this.features, jobIds.features(postId), { timeoutMs });
  }

  async row(postId: string): Promise<PostRow> {
    const r = await this.db.pool.query<PostRow>(
      `SELECT state, flags, image_sha256 AS "imageSha256", error FROM posts WHERE id = $1`,
      [postId],
    );
    const row = r.rows[0]!;
    return { ...row, flags: [...row.flags].sort() }; // stored as a set: its order means nothing
  }

  /** Observations of a histogram in the worker's metrics: how many, and their sum. */
  async observed(metric: string): Promise<{ count: number; sum: number }> {
    const values = (await this.metrics.registry.getSingleMetric(metric)!.get()).values;
    const name = (v: object) => (v as { metricName?: string }).metricName; // set on histogram values
    const pick = (suffix: string) => values.find((v) => name(v) === `${metric}${suffix}`)?.value ?? 0;
    return { count: pick("_count"), sum: pick("_sum") };
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.features.obliterate({ force: true }).catch(() => {});
    await this.predict.obliterate({ force: true }).catch(() => {});
    await this.features.close();
    await this.predict.close();
    await this.db.pool.query("DELETE FROM batches WHERE id = $1", [this.batchId]);
    await this.db.pool.query("DELETE FROM api_keys WHERE id = $1", [this.apiKeyId]);
    this.store.destroy();
    this.direct.destroy();
    await this.db.close();
  }
}

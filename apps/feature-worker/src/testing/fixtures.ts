// What the feature worker's tests share: a real tiny detector from the engine, a batch of posts in Postgres, and
// the worker itself started on a fresh queue prefix with the test's own dependencies.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FeatureJob, type PredictJob, QUEUES } from "@lxtag/contracts";
import { createLogger, storeOptions, WorkerMetrics } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { engineCommand, testEnv, WorkerHarness } from "@lxtag/testkit";
import { Detector } from "@lxtag/vision";
import type { Queue } from "bullmq";
import { type FeatureConfig, loadConfig } from "../config.js";
import { type FeatureWorker, startFeatureWorker } from "../feature-worker.js";

/** The tiny Faster R-CNN with random weights, exported by the engine into a fresh folder and loaded. */
export async function tinyDetector(): Promise<Detector> {
  const dir = join(await mkdtemp(join(tmpdir(), "lxtag-fw-")), "detector");
  await engineCommand(["export-detector", "--preset", "tiny", "--out", dir]);
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
export class FeatureHarness extends WorkerHarness<FeatureConfig> {
  /** What the worker uses. */
  readonly store: ObjectStore;
  /** Straight to S3, for the test's own reads and writes. */
  readonly direct: ObjectStore;
  readonly features: Queue<FeatureJob> = this.jobs;
  readonly predict: Queue<PredictJob> = this.queue<PredictJob>(QUEUES.predict);
  readonly metrics = new WorkerMetrics("feature-worker-test");
  worker!: FeatureWorker;

  constructor(
    readonly detector: Detector,
    env: Record<string, string> = {},
    s3Endpoint?: string,
  ) {
    super(loadConfig(testEnv("lxtag-fw", env)), QUEUES.features);
    this.direct = new ObjectStore(storeOptions(this.config));
    this.store = new ObjectStore({
      ...storeOptions(this.config),
      endpoint: s3Endpoint ?? this.config.LXTAG_S3_ENDPOINT,
    });
  }

  async start(): Promise<this> {
    await this.direct.ensureBucket();
    await this.createBatch();
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
    return this.insertPost({ imageKey });
  }

  /** Failed attempts per job id, as the worker reports them (a retried job fails first). */
  failures(): Map<string, string[]> {
    const seen = new Map<string, string[]>();
    this.worker.worker.on("failed", (job, err) => {
      if (job?.id) seen.set(job.id, [...(seen.get(job.id) ?? []), err.message]);
    });
    return seen;
  }

  row(postId: string): Promise<PostRow> {
    return this.postRow(postId, `state, flags, image_sha256 AS "imageSha256", error`);
  }

  /** Observations of a histogram in the worker's metrics: how many, and their sum. */
  async observed(metric: string): Promise<{ count: number; sum: number }> {
    const values = (await this.metrics.registry.getSingleMetric(metric)!.get()).values;
    const name = (v: object) => (v as { metricName?: string }).metricName; // set on histogram values
    const pick = (suffix: string) => values.find((v) => name(v) === `${metric}${suffix}`)?.value ?? 0;
    return { count: pick("_count"), sum: pick("_sum") };
  }

  override async close(): Promise<void> {
    await this.worker?.close();
    this.store.destroy();
    this.direct.destroy();
    await super.close();
  }
}

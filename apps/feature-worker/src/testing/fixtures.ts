// What the feature worker's tests share: a real tiny detector from the engine, a batch of posts in Postgres, and
// the worker itself started on a fresh queue prefix with the test's own dependencies.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  CURRENT_DETECTOR_KEY,
  detectorBundlePrefix,
  detectorManifestSchema,
  type FeatureJob,
  jobIds,
  type PredictJob,
  QUEUES,
} from "@lxtag/contracts";
import { createLogger, storeOptions, WorkerMetrics } from "@lxtag/runtime";
import { ObjectStore, publishBundle } from "@lxtag/storage";
import { engineCommand, testEnv, WorkerHarness, waitForJob } from "@lxtag/testkit";
import { Detector } from "@lxtag/vision";
import type { Job, Queue, Worker } from "bullmq";
import { type FeatureConfig, loadConfig } from "../config.js";
import { type FeatureWorker, startFeatureWorker } from "../feature-worker.js";
import { forgetDetector, loadServingDetector } from "../serving-detector.js";

/** The tiny Faster R-CNN with random weights, exported by the engine into a fresh folder; returns the folder. */
export async function tinyDetectorBundle(): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), "lxtag-fw-")), "detector");
  await engineCommand(["export-detector", "--preset", "tiny", "--out", dir]);
  return dir;
}

/** The tiny detector, loaded from `dir` (a fresh export without it, removed once loaded). */
export async function tinyDetector(dir?: string): Promise<Detector> {
  if (dir) return Detector.load(dir);
  const exported = await tinyDetectorBundle();
  try {
    return await Detector.load(exported);
  } finally {
    await rm(dirname(exported), { recursive: true, force: true });
  }
}

/** Publishes a detector bundle folder as the trainer's ensure-detector does: the bundle, then `current.json`. */
export async function publishDetector(store: ObjectStore, dir: string): Promise<string> {
  const { id } = detectorManifestSchema.parse(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
  await publishBundle(store, dir, detectorBundlePrefix(id));
  await store.put(CURRENT_DETECTOR_KEY, JSON.stringify({ id }), "application/json");
  return id;
}

export interface PostRow {
  state: string;
  flags: string[];
  imageSha256: string | null;
  error: string | null;
}

/**
 * A feature worker on its own queue prefix, over a batch of its own in the shared database. `detector`: the one it
 * serves, or `"published"`: the one published in its S3 bucket, looked for as main.ts does (give it a bucket of
 * its own, `LXTAG_S3_BUCKET`, so the shared `detectors/current.json` stays as it is). `env` overrides the
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
  /** The workers' detector caches, removed by `close`. */
  private readonly cacheDirs: string[] = [];
  /** The cache folder of the worker started last. */
  get cacheDir(): string {
    const dir = this.cacheDirs.at(-1);
    if (!dir) throw new Error("the feature worker has not started");
    return dir;
  }
  /** The worker's logger (silent): spy on it to see what the worker says. */
  readonly log = createLogger("feature-worker-test", "silent");
  worker!: FeatureWorker;

  constructor(
    readonly detector: Detector | "published",
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

  /** Starts the worker; with a detector of the test's, returns once it takes jobs. */
  async start(): Promise<this> {
    await this.direct.ensureBucket();
    await this.createBatch();
    const given = this.detector;
    const config = { ...this.config, LXTAG_CACHE_DIR: await mkdtemp(join(tmpdir(), "lxtag-fw-cache-")) };
    this.cacheDirs.push(config.LXTAG_CACHE_DIR);
    this.worker = startFeatureWorker(
      {
        repos: this.repos,
        store: this.store,
        loadDetector:
          given === "published"
            ? (loaded) => loadServingDetector(this.store, config, loaded)
            : (loaded) => Promise.resolve(loaded === given.id ? { unchanged: loaded } : { detector: given }),
        forgetDetector: given === "published" ? (id) => forgetDetector(config, id) : undefined,
        predict: this.predict,
        log: this.log,
        metrics: this.metrics,
      },
      config,
    );
    if (given !== "published") await this.worker.serving;
    return this;
  }

  /** The BullMQ worker, once it takes jobs. */
  get bullWorker(): Worker {
    const worker = this.worker.worker;
    if (!worker) throw new Error("the feature worker takes no jobs yet");
    return worker;
  }

  /** A pending post whose image is `imageKey` (an S3 key or a URL); with `image`, that key is uploaded first. */
  async post(imageKey: string | null, image?: Buffer): Promise<string> {
    if (image && imageKey) await this.direct.put(imageKey, image);
    return this.insertPost({ imageKey });
  }

  /**
   * What the predict worker does with a post whose RoI object it does not find: the post goes back to
   * featurization under the re-run's job id; resolves with that job once it settled.
   */
  async sendBack(postId: string, detectorId: string): Promise<Job> {
    if (!(await this.repos.posts.markRefeaturizing(postId)))
      throw new Error(`post ${postId} is not predicting`);
    const jobId = jobIds.refeaturize(postId, detectorId);
    await this.features.add("features", { batchId: this.batchId, postId }, { jobId });
    return waitForJob(this.features, jobId);
  }

  /** A pending post as ingest leaves one whose image it stored: its image key and the hash ingest computed. */
  postFromIngest(imageKey: string, imageSha256: string): Promise<string> {
    return this.insertPost({ imageKey, imageSha256 });
  }

  /** Failed attempts per job id, as the worker reports them (a retried job fails first). */
  failures(): Map<string, string[]> {
    const seen = new Map<string, string[]>();
    this.bullWorker.on("failed", (job, err) => {
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
    // a detector the worker loaded itself is the harness's to release; the test's own is the test's
    if (this.detector === "published") await this.worker?.detector?.dispose();
    this.store.destroy();
    this.direct.destroy();
    for (const dir of this.cacheDirs) await rm(dir, { recursive: true, force: true });
    await super.close();
  }
}

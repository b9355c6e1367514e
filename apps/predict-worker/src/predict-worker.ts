import {
  type FeatureJob,
  isPostRange,
  isPredictPart,
  POSTS_PER_JOB,
  type PredictJob,
  predictJobSchema,
  QUEUES,
  type RelabelJob,
  relabelJobSchema,
} from "@lxtag/contracts";
import { failPost, failRange, type Repositories } from "@lxtag/db";
import { type Logger, runWorker, startPolling, type WorkerMetrics } from "@lxtag/runtime";
import type { ObjectStore } from "@lxtag/storage";
import type { Queue, Worker } from "bullmq";
import { z } from "zod";
import type { PredictConfig } from "./config.js";
import { FeatureCache } from "./feature-cache.js";
import { ModelLoader } from "./model-loader.js";
import { type ManyOutcome, type PredictOutcome, Predictor } from "./predictor.js";

/**
 * The predict queue holds predict jobs from the feature workers (a range of posts, or one post sent back to
 * featurization) and relabel jobs from the API (a list of posts).
 */
const jobSchema = z.union([relabelJobSchema, predictJobSchema]);
const isRelabel = (job: PredictJob | RelabelJob): job is RelabelJob => "postIds" in job;

export interface PredictWorkerDeps {
  repos: Repositories;
  store: ObjectStore;
  /** Where a post goes back when its image has no RoI object for the serving model's detector. */
  features: Queue<FeatureJob>;
  log: Logger;
  /** Job durations, micro-batch sizes and times. */
  metrics?: WorkerMetrics;
}

export interface PredictWorker {
  readonly loader: ModelLoader;
  readonly predictor: Predictor;
  /** RoI objects kept for reading again. */
  readonly cache: FeatureCache;
  /** Resolves with the first model's id once the worker takes jobs. */
  readonly serving: Promise<string>;
  /** The BullMQ worker; undefined while no model is there to serve. */
  readonly worker: Worker | undefined;
  /** Stops taking jobs, waits for those in flight, releases the models; the deps stay open. */
  close(): Promise<void>;
}

/**
 * Consumes the predict queue with the registry's active model (or `LXTAG_MODEL_ID`), checking the registry every
 * `LXTAG_MODEL_POLL_MS` for a newly activated one. With no model to serve yet (a fresh install, or a first model
 * that failed its warm-up), it does not take jobs (they wait in the queue, unfailed) and starts once one it can
 * serve is activated: no crash loop, no failed posts.
 */
export function startPredictWorker(deps: PredictWorkerDeps, config: PredictConfig): PredictWorker {
  const { log, metrics } = deps;
  const pinned = config.LXTAG_MODEL_ID;
  const loader = new ModelLoader({
    repos: deps.repos,
    store: deps.store,
    log,
    cacheDir: config.LXTAG_CACHE_DIR,
    providers: config.LXTAG_EXECUTION_PROVIDERS,
    threads: config.LXTAG_ORT_THREADS,
    pinned,
    warmUp: (model): Promise<void> => predictor.warmUp(model),
  });
  const batchSizes = metrics?.histogram(
    "lxtag_predict_batch_size",
    "Posts per micro-batch (one ONNX run)",
    [1, 2, 4, 8, 16, 32, 64, 128],
  );
  const batchSeconds = metrics?.histogram(
    "lxtag_predict_batch_seconds",
    "Micro-batch time: features, model, writes",
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  const cache = new FeatureCache(config.LXTAG_FEATURE_CACHE_MB * 1024 * 1024);
  const cacheReads = metrics?.counter(
    "lxtag_predict_roi_reads_total",
    "RoI object reads by where they came from",
    ["source"],
  );
  const predictor = new Predictor(
    {
      repos: deps.repos,
      cache,
      store: deps.store,
      features: deps.features,
      log,
      topK: config.LXTAG_TOP_K,
      withModel: (fn) => loader.use(fn),
      observeBatch: (size, seconds) => {
        batchSizes?.observe(size);
        batchSeconds?.observe(seconds);
        const { hits, misses } = cache.stats;
        cacheReads?.inc({ source: "cache" }, hits - reported.hits);
        cacheReads?.inc({ source: "s3" }, misses - reported.misses);
        reported = { hits, misses };
      },
    },
    {
      maxBatchSize: config.LXTAG_MAX_BATCH_SIZE,
      maxWaitMs: config.LXTAG_MAX_WAIT_MS,
      batchesInFlight: config.LXTAG_BATCHES_IN_FLIGHT,
    },
  );
  let reported = { hits: 0, misses: 0 };

  let worker: Worker | undefined;
  let closed = false;
  let waitingSaid = false;
  let markServing: (id: string) => void = () => {};
  const serving = new Promise<string>((resolve) => {
    markServing = resolve;
  });

  const startTakingJobs = (modelId: string) => {
    worker = runWorker<PredictJob | RelabelJob, PredictOutcome | ManyOutcome>({
      queue: QUEUES.predict,
      schema: jobSchema,
      config,
      // jobs bringing four times the posts of the batches reading (twice as many may be in the model or being
      // written, the batcher's maxUnsettled, and as many again wait as rows to start the moment a read slot frees;
      // at twice, reads sometimes waited for the next job to be fetched), and at least a micro-batch of jobs, as
      // one-post jobs (posts sent back to featurization) batch too
      concurrency: Math.max(
        config.LXTAG_MAX_BATCH_SIZE,
        Math.ceil((4 * config.LXTAG_MAX_BATCH_SIZE * config.LXTAG_BATCHES_IN_FLIGHT) / POSTS_PER_JOB),
      ),
      log,
      metrics,
      // each job reads its posts in one query (a range's, a relabel's 64, or the one post sent back to featurization)
      // and hands the rows to the micro-batches
      process: async (job) => {
        const { posts } = deps.repos;
        if (isRelabel(job)) {
          const found = await posts.forPredict(job.postIds);
          const outcomes = await predictor.predictMany(found);
          return { ...outcomes, skipped: outcomes.skipped + job.postIds.length - found.length }; // deleted since
        }
        if (!isPostRange(job)) {
          const [post] = await posts.forPredict([job.postId]);
          return post ? predictor.predict(post) : "skipped"; // deleted with its batch meanwhile
        }
        // the range's posts waiting for prediction (those done by an attempt that failed after are not redone), and
        // those an attempt sent back to featurization (their features job is added again: a no-op if it was)
        return predictor.predictMany(await posts.inRange(job, ["predicting"], { sentBack: true }));
      },
      onFinalFailure: async (job, err, { id }) => {
        const reason = `predict-failed: ${err.message}`;
        // a relabel that gives up leaves its posts done, with the predictions they had
        if (isRelabel(job))
          log.error({ batchId: job.batchId, posts: job.postIds.length, err: err.message }, "relabel failed");
        else if (isPostRange(job) && isPredictPart(job, id))
          // a part of a range (`jobIds.predictPart`) leaves its posts to the range's own predict job, which always
          // follows it (its features job adds it, also when it gives up), rather than fail posts featurized since
          log.error({ ...job, jobId: id, err: err.message }, "predicting a part of a range failed");
        else if (isPostRange(job)) await failRange(deps.repos, job, ["predicting"], reason);
        else await failPost(deps.repos, job, reason);
      },
    });
    log.info({ model: modelId, maxBatchSize: config.LXTAG_MAX_BATCH_SIZE }, "predict worker ready");
    markServing(modelId);
  };

  // the registry is read again every LXTAG_MODEL_POLL_MS for the whole life of the worker: a newly activated model
  // is swapped in between micro-batches
  const poller = startPolling(
    config.LXTAG_MODEL_POLL_MS,
    async () => {
      const model = await loader.refresh();
      if (closed) return "stop";
      if (model && !worker) startTakingJobs(model.id);
      if (!model && !waitingSaid && !loader.refused) {
        waitingSaid = true;
        log.warn(
          { pinned },
          pinned
            ? "the pinned model version is not in the registry; waiting for it"
            : "no active model in the registry; jobs wait until one is activated",
        );
      }
      return undefined;
    },
    (err) =>
      log.error(
        { err: err.message },
        loader.model
          ? "model refresh failed; keeping the model loaded before"
          : "model refresh failed; no model serves yet, so jobs wait",
      ),
  );

  return {
    loader,
    predictor,
    cache,
    serving,
    get worker() {
      return worker;
    },
    async close() {
      closed = true;
      await poller.stop();
      await worker?.close();
      await loader.close();
    },
  };
}

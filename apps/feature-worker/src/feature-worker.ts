import { type FeatureJob, featureJobSchema, isPostRange, type PredictJob, QUEUES } from "@lxtag/contracts";
import { failPost, failRange, type Repositories } from "@lxtag/db";
import {
  type Logger,
  retriesAfter,
  retryPolicy,
  runWorker,
  Semaphore,
  startPolling,
  type WorkerMetrics,
} from "@lxtag/runtime";
import type { ObjectStore } from "@lxtag/storage";
import type { Detector, ImageDetector } from "@lxtag/vision";
import type { Queue, Worker } from "bullmq";
import type { FeatureConfig } from "./config.js";
import { addPredictJob, featurizeOne, featurizeRange } from "./featurize.js";
import { fetchLimits } from "./image-source.js";
import type { ServingDetector } from "./serving-detector.js";

export interface FeatureWorkerDeps {
  repos: Repositories;
  store: ObjectStore;
  /**
   * The detector to serve, or why there is none yet (a fresh install), or that `loaded` still is the one; asked
   * every `LXTAG_DETECTOR_POLL_MS` (main.ts: `loadServingDetector`). A detector the worker replaced it disposes;
   * the last one its owner does, after `close()`, through {@link FeatureWorker.detector}.
   */
  loadDetector: (loaded?: string) => Promise<ServingDetector>;
  /** Removes a replaced detector's cached bundle (main.ts: `forgetDetector`); unset: kept. */
  forgetDetector?: (detectorId: string) => Promise<void>;
  /** Where featurized posts go next. */
  predict: Queue<PredictJob>;
  log: Logger;
  /** Job durations, post durations by outcome (cached, detected, caption-only) and images per detector run. */
  metrics?: WorkerMetrics;
}

export interface FeatureWorker {
  /** Resolves with the detector once the worker takes jobs. */
  readonly serving: Promise<Detector>;
  /** The BullMQ worker; undefined while no detector is there to serve. */
  readonly worker: Worker | undefined;
  /** The detector serving now, for its owner to dispose after `close()`; undefined until one is. */
  readonly detector: Detector | undefined;
  /** Stops looking for a detector and taking jobs, waits for those in flight; the deps stay open. */
  close(): Promise<void>;
}

/**
 * Consumes the features queue: a range of posts per job (or one post sent back), their images' RoIs cached in S3,
 * the posts handed to prediction.
 * With no detector published yet (a fresh install, before the trainer's `ensure-detector` ran), it takes no jobs
 * (they wait in the queue, unfailed), says so once, looks again every `LXTAG_DETECTOR_POLL_MS`, and starts once
 * one is published: no crash loop, no failed posts. It goes on looking at that pace, and when another detector is
 * published as the serving one, loads it beside the old, lets the jobs in flight finish, and takes the next jobs
 * with the new one (no restart).
 */
export function startFeatureWorker(deps: FeatureWorkerDeps, config: FeatureConfig): FeatureWorker {
  const { log } = deps;
  const instruments = registerInstruments(deps.metrics);
  let worker: Worker | undefined;
  let detector: Detector | undefined;
  let closed = false;
  let waitingSaid = false;
  let markServing: (detector: Detector) => void = () => {};
  const serving = new Promise<Detector>((resolve) => {
    markServing = resolve;
  });

  // after a failed look while serving (an S3 outage, a new bundle that does not load), the next waits this long:
  // a broken bundle is not downloaded and loaded again every poll
  const quietMs = 30 * config.LXTAG_DETECTOR_POLL_MS;
  let quietUntil = 0;
  // a replaced detector leaves memory and this host's disk
  const release = async (replaced: Detector | undefined) => {
    if (!replaced) return;
    await replaced
      .dispose()
      .catch((err: Error) => log.warn({ err: err.message, detector: replaced.id }, "dispose failed"));
    await deps
      .forgetDetector?.(replaced.id)
      .catch((err: Error) =>
        log.warn({ err: err.message, detector: replaced.id }, "could not remove its cached bundle"),
      );
  };

  const poller = startPolling(
    config.LXTAG_DETECTOR_POLL_MS,
    async () => {
      if (detector && performance.now() < quietUntil) return undefined;
      const found = await deps.loadDetector(detector?.id);
      if ("unchanged" in found) return closed ? "stop" : undefined;
      if ("missing" in found) {
        // once serving, a detector that went missing from the registry is no reason to stop
        if (!detector && !waitingSaid) {
          waitingSaid = true;
          log.warn(
            { reason: found.missing, pollMs: config.LXTAG_DETECTOR_POLL_MS },
            "waiting for a serving detector (the trainer's ensure-detector publishes one); jobs wait until then",
          );
        }
        return closed ? "stop" : undefined;
      }
      const next = found.detector;
      const previous = detector;
      if (next === previous) return closed ? "stop" : undefined;
      // jobs in flight finish on the detector they started with; later ones wait in the queue for the swap
      try {
        await worker?.close();
      } catch (err) {
        await release(next);
        throw err;
      }
      detector = next; // kept even when closed meanwhile, so its owner disposes it
      if (closed) {
        await release(previous);
        return "stop";
      }
      const described = {
        detector: next.id,
        weights: next.manifest.weights,
        selection: next.manifest.selection.mode,
        provider: next.provider,
        imageBatch: config.LXTAG_IMAGE_BATCH,
      };
      worker = takeJobs(deps, next, config, instruments);
      if (previous) {
        log.info(
          { ...described, previous: previous.id },
          "serving detector changed: jobs from now on use it",
        );
        await release(previous);
        return undefined;
      }
      log.info(described, "detector loaded");
      log.info({ concurrency: config.LXTAG_FEATURE_CONCURRENCY }, "feature worker ready");
      markServing(next);
      return undefined;
    },
    (err) => {
      if (!detector)
        return log.error({ err: err.message }, "loading the serving detector failed; trying again");
      quietUntil = performance.now() + quietMs;
      log.warn(
        { err: err.message, detector: detector.id, retryInS: quietMs / 1000 },
        "could not check for a new serving detector; serving this one",
      );
    },
  );

  return {
    serving,
    get worker() {
      return worker;
    },
    get detector() {
      return detector;
    },
    async close() {
      closed = true;
      // the worker stops taking jobs at once, even while a look for a new detector is still loading one
      await Promise.all([poller.stop(), worker?.close()]);
    },
  };
}

/** The feature worker's own metrics, registered once for every detector it serves. */
type Instruments = ReturnType<typeof registerInstruments>;

function registerInstruments(metrics: WorkerMetrics | undefined) {
  return {
    imagesPerRun: metrics?.histogram(
      "lxtag_feature_image_batch_size",
      "Images per detector batch (one detectBatch call)",
      [1, 2, 4, 8, 16, 32],
    ),
    postSeconds: metrics?.histogram(
      "lxtag_feature_post_seconds",
      "Time to featurize a post (fetch, detector or RoI cache, update), by outcome",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      ["outcome"],
    ),
  };
}

/** The BullMQ worker on the features queue, serving `served`. */
function takeJobs(
  deps: FeatureWorkerDeps,
  served: Detector,
  config: FeatureConfig,
  { imagesPerRun, postSeconds }: Instruments,
): Worker {
  const { repos, log, metrics } = deps;
  const policy = retryPolicy(config);
  const detector: ImageDetector =
    config.LXTAG_IMAGE_BATCH > 1
      ? served.batching({
          maxBatchSize: config.LXTAG_IMAGE_BATCH,
          maxWaitMs: config.LXTAG_IMAGE_BATCH_WAIT_MS,
          onBatch: (size) => imagesPerRun?.observe(size),
        })
      : {
          id: served.id,
          detect: (image) => {
            imagesPerRun?.observe(1);
            return served.detect(image);
          },
        };
  const limits = { ...fetchLimits(config), maxPixels: config.LXTAG_MAX_IMAGE_PIXELS };
  const slots = new Semaphore(config.LXTAG_FEATURE_CONCURRENCY);
  return runWorker<FeatureJob, { outcome: string; posts?: Record<string, number> }>({
    queue: QUEUES.features,
    schema: featureJobSchema,
    config,
    // jobs in flight: their posts share the slots, so as many jobs as slots keep every slot busy
    concurrency: config.LXTAG_FEATURE_CONCURRENCY,
    log,
    metrics,
    process: async (job, ctx) => {
      const started = performance.now();
      const featurizeDeps = {
        ...deps,
        detector,
        limits,
        slots,
        log: ctx.log,
        observePost: (outcome: string, seconds: number) => postSeconds?.observe({ outcome }, seconds),
      };
      const counts = isPostRange(job)
        ? await featurizeRange(job, featurizeDeps, {
            started: ctx.job.attemptsStarted,
            retriedAfter: (err) => retriesAfter(policy, ctx.job, err),
          })
        : { [await featurizeOne(job, featurizeDeps)]: 1 };
      const posts = Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
      ctx.log.debug({ posts, ms: Math.round(performance.now() - started) }, "featurized");
      return { outcome: isPostRange(job) ? "range" : Object.keys(posts)[0]!, posts };
    },
    onFinalFailure: async (job, err) => {
      const reason = `features-failed: ${err.message}`;
      if (!isPostRange(job)) return failPost(repos, job, reason);
      // the posts featurized go on to prediction; the others fail with the reason
      if ((await repos.posts.inRange(job, ["predicting"])).length) await addPredictJob(job, deps.predict);
      await failRange(repos, job, ["pending", "featurizing"], reason);
    },
  });
}

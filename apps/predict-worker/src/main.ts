import { predictJobSchema, QUEUES } from "@lxtag/contracts";
import { createDb, failPost, repositories } from "@lxtag/db";
import {
  createLogger,
  onFinalFailure,
  onShutdown,
  storeOptions,
  WorkerMetrics,
  workerOptions,
} from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { UnrecoverableError, Worker } from "bullmq";
import { loadConfig } from "./config.js";
import { ModelLoader } from "./model-loader.js";
import { Predictor } from "./predictor.js";

const config = loadConfig();
const log = createLogger("predict-worker", config.LXTAG_LOG_LEVEL);
const db = createDb(config.DATABASE_URL, 4);
const repos = repositories(db);
const store = new ObjectStore(storeOptions(config));
const loader = new ModelLoader({
  repos,
  store,
  log,
  cacheDir: config.LXTAG_CACHE_DIR,
  providers: config.LXTAG_EXECUTION_PROVIDERS,
  threads: config.LXTAG_ORT_THREADS,
  pinned: config.LXTAG_MODEL_ID,
});
await loader.refresh();
loader.watch(config.LXTAG_MODEL_POLL_MS);

const metrics = new WorkerMetrics("predict-worker");
const batchSizes = metrics.histogram(
  "lxtag_predict_batch_size",
  "Posts per micro-batch (one ONNX run)",
  [1, 2, 4, 8, 16, 32, 64, 128],
);
const batchSeconds = metrics.histogram(
  "lxtag_predict_batch_seconds",
  "Micro-batch time: features, model, writes",
  [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
);
const predictor = new Predictor(
  {
    repos,
    store,
    log,
    topK: config.LXTAG_TOP_K,
    model: () => loader.model,
    observeBatch: (size, seconds) => {
      batchSizes.observe(size);
      batchSeconds.observe(seconds);
    },
  },
  {
    maxBatchSize: config.LXTAG_MAX_BATCH_SIZE,
    maxWaitMs: config.LXTAG_MAX_WAIT_MS,
  },
);
const worker = new Worker(
  QUEUES.predict,
  async (job) => {
    const parsed = predictJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`bad predict payload: ${parsed.error.message}`);
    return predictor.predict(parsed.data.postId);
  },
  // as many jobs in flight as one micro-batch holds, so the batcher has something to batch
  workerOptions(config, config.LXTAG_MAX_BATCH_SIZE),
);
metrics.watch(worker);
const metricsServer = metrics.serve(config.LXTAG_METRICS_PORT, log);
onFinalFailure(worker, log, async (job, err) => {
  const parsed = predictJobSchema.safeParse(job.data);
  if (parsed.success) await failPost(repos, parsed.data, `predict-failed: ${err.message}`);
});
log.info({ model: loader.model.id, maxBatchSize: config.LXTAG_MAX_BATCH_SIZE }, "predict worker ready");

onShutdown(log, async () => {
  await worker.close();
  metricsServer?.close();
  await loader.close();
  store.destroy();
  await db.close();
});

import { ingestJobSchema, QUEUES } from "@lxtag/contracts";
import { startReconciler } from "@lxtag/reconciler";
import { onShutdown, runWorker, startPolling } from "@lxtag/runtime";
import { buildApp } from "./app.js";
import { configuredKeys } from "./config.js";
import { connect } from "./connect.js";
import { runIngest } from "./ingest/ingest-job.js";
import { discardUpload } from "./services/uploads.js";

const SPOOL_SWEEP_MS = 60_000;

const deps = connect();
const { config, log } = deps;
for (const { name, key, admin } of configuredKeys(config))
  await deps.repos.apiKeys.ensure(name, key, { admin, configured: true });

const app = await buildApp(deps);
// The ingest job runs beside the API: parsing is I/O-bound; scale it by adding API replicas.
const ingest = runWorker({
  queue: QUEUES.ingest,
  schema: ingestJobSchema,
  config,
  concurrency: config.LXTAG_INGEST_CONCURRENCY,
  log,
  process: (data, { log }) => runIngest(data.batchId, { ...deps, features: deps.queues.features, log }),
  onFinalFailure: (data, err) => deps.repos.batches.markFailed(data.batchId, `ingest-failed: ${err.message}`),
});

// The reconciler runs here, the one process that is always up (workers scale to zero): it re-queues batches and posts
// an outage left without a live job (README, "Failure model"); replicas share one pass per interval.
const reconciler =
  config.LXTAG_RECONCILE_INTERVAL_MS > 0
    ? startReconciler(
        {
          repos: deps.repos,
          queues: deps.queues,
          log: log.child({ component: "reconciler" }),
          // re-featurized posts' jobs are named after the serving model's detector
          servingDetector: async () => (await deps.repos.models.active())?.detectorId,
          uploads: {
            abandonedAfterMs: config.LXTAG_UPLOAD_ABANDONED_AFTER_S * 1000,
            discard: (batch) => discardUpload(deps.store, batch),
          },
        },
        { intervalMs: config.LXTAG_RECONCILE_INTERVAL_MS },
      )
    : undefined;

// Upload copies no ingest here will take go: those of batches ingested on another replica (or failed) within a
// minute, those of uploads this process did not finish (it was killed) once silent for as long as an upload may be,
// and the oldest queued ones past the spool's budget.
const spoolSweep = startPolling(
  SPOOL_SWEEP_MS,
  async () => {
    const removed = await deps.spool.sweep({
      stateOf: async (id) => (await deps.repos.batches.find(id))?.state ?? null,
      abandonedAfterMs: config.LXTAG_UPLOAD_ABANDONED_AFTER_S * 1000,
      maxBytes: config.LXTAG_UPLOAD_SPOOL_MAX_GB * 2 ** 30,
    });
    if (removed) log.info({ removed, dir: deps.spool.dir }, "upload copies no ingest took removed");
    return undefined;
  },
  (err) => log.warn({ err: err.message, dir: deps.spool.dir }, "could not sweep the upload spool"),
);

await app.listen({ host: config.LXTAG_API_HOST, port: config.LXTAG_API_PORT });
onShutdown(log, async () => {
  await spoolSweep.stop();
  await reconciler?.stop();
  await app.close();
  await ingest.close();
  await deps.close();
});

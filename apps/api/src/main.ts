import { ingestJobSchema, QUEUES } from "@lxtag/contracts";
import { onFinalFailure, onShutdown, workerOptions } from "@lxtag/runtime";
import { UnrecoverableError, Worker } from "bullmq";
import { buildApp } from "./app.js";
import { configuredKeys } from "./config.js";
import { runIngest } from "./ingest/ingest-job.js";
import { connect } from "./services.js";

const deps = connect();
const { config, log } = deps;
for (const { name, key } of configuredKeys(config)) await deps.repos.apiKeys.ensure(name, key);

const app = await buildApp(deps);
// The ingest job runs beside the API: parsing is I/O-bound; scale it by adding API replicas.
const ingest = new Worker(
  QUEUES.ingest,
  async (job) => {
    const parsed = ingestJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`bad ingest payload: ${parsed.error.message}`);
    return runIngest(parsed.data.batchId, {
      ...deps,
      features: deps.queues.features,
      log: log.child({ jobId: job.id, queue: QUEUES.ingest }),
    });
  },
  workerOptions(config, config.LXTAG_INGEST_CONCURRENCY),
);
onFinalFailure(ingest, log, async (job, err) => {
  const parsed = ingestJobSchema.safeParse(job.data);
  if (parsed.success)
    await deps.repos.batches.markFailed(parsed.data.batchId, `ingest-failed: ${err.message}`);
});

await app.listen({ host: config.LXTAG_API_HOST, port: config.LXTAG_API_PORT });
onShutdown(log, async () => {
  await app.close();
  await ingest.close();
  await deps.close();
});

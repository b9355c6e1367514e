import type { ApiDeps } from "../deps.js";
import { BatchService } from "./batches.js";
import { createMetricsRegistry } from "./metrics.js";
import { ModelService } from "./models.js";
import { PostService } from "./posts.js";
import { TrainingRunService } from "./training-runs.js";

/** What the routes call; built once per app from its dependencies. */
export function createServices(deps: ApiDeps) {
  return {
    batches: new BatchService({
      repos: deps.repos,
      store: deps.store,
      ingest: deps.queues.ingest,
      maxPartBytes: deps.config.LXTAG_UPLOAD_MAX_BYTES,
      log: deps.log,
    }),
    posts: new PostService(deps.repos),
    models: new ModelService({ models: deps.repos.models, store: deps.store }),
    trainingRuns: new TrainingRunService({ runs: deps.repos.trainingRuns, training: deps.queues.training }),
    metrics: createMetricsRegistry(deps),
  };
}
export type ApiServices = ReturnType<typeof createServices>;

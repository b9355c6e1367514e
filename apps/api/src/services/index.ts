import type { ApiDeps } from "../deps.js";
import { BatchService } from "./batches.js";
import { createMetricsRegistry } from "./metrics.js";
import { ModelService } from "./models.js";
import { PostService } from "./posts.js";
import { RelabelService } from "./relabel.js";
import { TrainingRunService } from "./training-runs.js";
import { VocabularyService } from "./vocabulary.js";

/** What the routes call; built once per app from its dependencies. */
export function createServices(deps: ApiDeps) {
  return {
    batches: new BatchService({
      repos: deps.repos,
      store: deps.store,
      spool: deps.spool,
      ingest: deps.queues.ingest,
      maxPartBytes: deps.config.LXTAG_UPLOAD_MAX_BYTES,
      uploadAbandonedAfterS: deps.config.LXTAG_UPLOAD_ABANDONED_AFTER_S,
      log: deps.log,
    }),
    posts: new PostService(deps.repos, deps.store),
    relabel: new RelabelService({ repos: deps.repos, predict: deps.queues.predict, log: deps.log }),
    models: new ModelService({ models: deps.repos.models, store: deps.store }),
    trainingRuns: new TrainingRunService({ runs: deps.repos.trainingRuns, training: deps.queues.training }),
    vocabulary: new VocabularyService(deps.repos.models),
    metrics: createMetricsRegistry(deps),
  };
}
export type ApiServices = ReturnType<typeof createServices>;

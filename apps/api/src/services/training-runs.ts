import {
  type AcceptedTrainingRun,
  type CreateTrainingRunBody,
  jobIds,
  type ListTrainingRunsQuery,
  type TrainingDecision,
  type TrainingJob,
  type TrainingRunDetail,
  type TrainingRunSummary,
  type TrainingRunsPage,
  trainingDecisionSchema,
  trainingFilterReportSchema,
  trainingMetricsSchema,
} from "@lxtag/contracts";
import type { ApiKeyIdentity, TrainingRun, TrainingRuns } from "@lxtag/db";
import type { Queue } from "bullmq";
import { z } from "zod";
import { InvalidStoredRunError, NotFoundError, ValidationError } from "../errors.js";

export interface TrainingRunServiceDeps {
  runs: TrainingRuns;
  training: Queue<TrainingJob>;
}

const paramsSchema = z.record(z.string(), z.unknown());
const timingsSchema = z.record(z.string(), z.number());

/** A JSON column read through its contract: a value the contract does not describe is a bug, named with its run. */
function stored<S extends z.ZodType>(run: TrainingRun, field: keyof TrainingRun, schema: S): z.output<S> {
  const parsed = schema.safeParse(run[field]);
  if (!parsed.success) throw new InvalidStoredRunError(run.id, field, z.prettifyError(parsed.error));
  return parsed.data;
}

const decision = (run: TrainingRun): TrainingDecision | null =>
  stored(run, "decision", trainingDecisionSchema.nullable());

function summary(run: TrainingRun): TrainingRunSummary {
  const d = decision(run);
  return {
    id: run.id,
    state: run.state,
    stage: run.stage,
    modelVersionId: run.modelVersionId,
    // a skipped run decided not to train, so not to promote either
    decision: d && { promote: "promote" in d && d.promote, reason: d.reason },
    error: run.error,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
  };
}

function detail(run: TrainingRun): TrainingRunDetail {
  return {
    ...summary(run),
    params: stored(run, "params", paramsSchema),
    datasetId: run.datasetId,
    filterReport: stored(run, "filterReport", trainingFilterReportSchema.nullable()),
    metrics: stored(run, "metrics", trainingMetricsSchema),
    decision: decision(run),
    timings: stored(run, "timings", timingsSchema),
    log: run.log,
  };
}

/**
 * Training runs over the API: admin keys ask for one (a `queued` row and a job on the training queue that names it)
 * and read the history the trainer writes.
 */
export class TrainingRunService {
  constructor(private readonly deps: TrainingRunServiceDeps) {}

  /**
   * Queues a run, whatever runs are queued or running already: the trainer takes them one at a time, and a run whose
   * process died stays `running` until the next run marks it interrupted, so refusing would lock training out.
   */
  async request(key: ApiKeyIdentity, { force }: CreateTrainingRunBody): Promise<AcceptedTrainingRun> {
    const run = await this.deps.runs.create({ requestedBy: key.id, force }, { state: "queued" });
    try {
      await this.deps.training.add("training", { runId: run.id, force }, { jobId: jobIds.training(run.id) });
    } catch (err) {
      // no job will ever take the row: it says so rather than stay queued for good
      await this.deps.runs.finish(run.id, "failed", {
        error: `not queued: ${err instanceof Error ? err.message : String(err)}`,
      });
      throw err;
    }
    return { runId: run.id, state: "queued", links: { self: `/v1/training-runs/${run.id}` } };
  }

  async page({ cursor, limit }: ListTrainingRunsQuery): Promise<TrainingRunsPage> {
    if (cursor && !(await this.deps.runs.find(cursor)))
      throw new ValidationError("querystring", [{ path: ["cursor"], message: `no training run ${cursor}` }]);
    const rows = await this.deps.runs.list(limit + 1, cursor);
    const runs = rows.slice(0, limit);
    return { runs: runs.map(summary), nextCursor: rows.length > limit ? runs.at(-1)!.id : null };
  }

  async find(id: string): Promise<TrainingRunDetail> {
    const run = await this.deps.runs.find(id);
    if (!run) throw new NotFoundError("training run", id);
    return detail(run);
  }
}

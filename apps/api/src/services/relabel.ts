import { randomUUID } from "node:crypto";
import {
  type BatchStateName,
  jobIds,
  RELABEL_POSTS_PER_JOB,
  type RelabelAccepted,
  type RelabelJob,
} from "@lxtag/contracts";
import type { Repositories } from "@lxtag/db";
import { addBulkChunked, type Logger } from "@lxtag/runtime";
import type { Queue } from "bullmq";
import { BatchIngestingError, NoActiveModelError, QueueUnavailableError } from "../errors.js";
import { QUEUE_RETRY_AFTER_S } from "./batches.js";

export interface RelabelServiceDeps {
  repos: Repositories;
  /** The predict queue: relabel jobs are taken by the predict workers beside the predict jobs. */
  predict: Queue;
  log: Logger;
}

/**
 * Re-predicting a batch with the active model, from the RoI objects its posts already have: the detector does not
 * run. Each finished post whose newest predictions are another model's is queued, `RELABEL_POSTS_PER_JOB` to a
 * job; its earlier predictions stay, and the results show the newest with the model they replaced.
 */
export class RelabelService {
  constructor(private readonly deps: RelabelServiceDeps) {}

  async relabel(batch: { id: string; state: BatchStateName }): Promise<RelabelAccepted> {
    if (batch.state === "uploading" || batch.state === "queued" || batch.state === "ingesting")
      throw new BatchIngestingError(batch.id, batch.state);
    const { repos } = this.deps;
    const model = await repos.models.active();
    if (!model) throw new NoActiveModelError();
    const postIds = await repos.posts.toRelabel(batch.id, model.id);
    // a request of its own: relabeling back to a model that relabeled the batch before is not a no-op
    const requestId = randomUUID().slice(0, 8);
    const jobs: { name: string; data: RelabelJob; opts: { jobId: string } }[] = [];
    for (let i = 0; i < postIds.length; i += RELABEL_POSTS_PER_JOB)
      jobs.push({
        name: "relabel",
        data: {
          batchId: batch.id,
          modelVersion: model.id,
          postIds: postIds.slice(i, i + RELABEL_POSTS_PER_JOB),
        },
        opts: { jobId: jobIds.relabel(batch.id, model.id, requestId, jobs.length) },
      });
    try {
      await addBulkChunked(this.deps.predict, jobs, 200);
    } catch (err) {
      // jobs added before the failure relabel their posts; asking again relabels the rest (and those again)
      throw new QueueUnavailableError(QUEUE_RETRY_AFTER_S, { cause: err });
    }
    this.deps.log.info(
      { batchId: batch.id, model: model.id, posts: postIds.length, jobs: jobs.length },
      "relabel queued",
    );
    return {
      batchId: batch.id,
      modelVersion: model.id,
      posts: postIds.length,
      jobs: jobs.length,
      links: { self: `/v1/batches/${batch.id}`, results: `/v1/batches/${batch.id}/results` },
    };
  }
}

import {
  type FeatureJob,
  type IngestJob,
  jobIds,
  type PostRange,
  type PredictJob,
  postRangeOf,
  REFEATURIZED_FLAG,
  type RelabelJob,
} from "@lxtag/contracts";
import { failPost, failRange, type Repositories } from "@lxtag/db";
import type { Logger } from "@lxtag/runtime";
import type { Queue } from "bullmq";

export interface ReconcilerQueues {
  ingest: Queue<IngestJob>;
  features: Queue<FeatureJob>;
  /** Predict and relabel jobs share it. */
  predict: Queue<PredictJob | RelabelJob>;
}

export interface ReconcilerDeps {
  repos: Repositories;
  queues: ReconcilerQueues;
  log: Logger;
  /**
   * The detector whose RoIs the serving model reads, or undefined while no model serves: it names the second round
   * of jobs of a post sent back to featurization (`jobIds.refeaturize`, `jobIds.repredict`).
   */
  servingDetector: () => Promise<string | undefined>;
  /**
   * Multipart uploads that stopped (the API process killed mid-stream): a batch still `uploading` after
   * `abandonedAfterMs` has what it wrote removed by `discard` and is then failed. Left out, uploads are not looked
   * after (a process that does not host the API, which owns the upload layout).
   */
  uploads?: {
    abandonedAfterMs: number;
    discard: (batch: { id: string; apiKeyId: string }) => Promise<void>;
  };
}

/** The error an abandoned upload's batch is failed with. */
export const UPLOAD_ABANDONED = "upload-abandoned";

export interface ReconcilerOptions {
  /** Posts read, and job states asked for, at a time. @defaultValue 500 */
  pageSize?: number;
}

/** What one pass found and did. */
export interface ReconcileReport {
  /** Unfinished batches looked at. */
  batches: number;
  /** Unfinished posts looked at. */
  posts: number;
  /** Jobs added for work that no live job carried, per queue. */
  requeued: { ingest: number; features: number; predict: number };
  /** Posts and batches whose job had failed for good without the failure being recorded: recorded now. */
  failuresRecorded: number;
  /** Re-featurized posts left alone because no model serves (their jobs are named after its detector). */
  waitingForModel: number;
  /** Uploads given up as abandoned: their parts deleted, their batch failed. */
  abandonedUploads: number;
}

type Stage = keyof ReconcilerQueues;
/** A job that should be live: a batch's ingest, a range of posts, or one post sent back to featurization. */
type Work = { stage: Stage; jobId: string; batchId: string; postId?: string; range?: PostRange };

/** Job states in which a job will still run: anything else (completed, failed, unknown) carries nothing. */
const LIVE = new Set(["waiting", "active", "delayed", "prioritized", "waiting-children"]);

/**
 * Makes sure that every unfinished batch and post has a live job, so that nothing waits forever after an outage
 * (a Redis restart that lost its last second of writes, a process killed between a state change and its enqueue,
 * a final failure that could not be recorded because Postgres was down too):
 *
 * - a batch `queued` or `ingesting` without a live ingest job gets one;
 * - a post `pending` or `featurizing` without a live features job gets one, `predicting` without a live predict
 *   job gets one (also while no model serves: the job then waits in the queue, as the predict worker intends): the
 *   job of its range of posts (`postRangeOf`), or its own once it was sent back to featurization; a range's
 *   predict job only once none of its posts waits for features (the features job adds it then);
 * - a job that completed although its post (or batch) is still at that stage is removed and added again; one that
 *   failed for good gets its failure recorded, as the worker's `onFinalFailure` would have;
 * - a `processing` batch whose posts are all finished is completed;
 * - a batch still `uploading` long after its upload began (`uploads`) loses its parts and is failed.
 *
 * Jobs carry the contracts' deterministic ids, and every job is idempotent, so a pass that races the pipeline
 * (adds a job a producer is about to add, re-runs one that just finished) changes nothing: BullMQ never adds an id
 * twice, and workers skip posts that have moved on.
 */
export class Reconciler {
  private readonly pageSize: number;

  constructor(
    private readonly deps: ReconcilerDeps,
    options: ReconcilerOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 500;
  }

  async run(): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      batches: 0,
      posts: 0,
      requeued: { ingest: 0, features: 0, predict: 0 },
      failuresRecorded: 0,
      waitingForModel: 0,
      abandonedUploads: 0,
    };
    await this.abandonedUploads(report);
    const detector = await this.deps.servingDetector();
    for (const batch of await this.deps.repos.batches.unfinished()) {
      report.batches += 1;
      if (batch.state === "processing") {
        await this.posts(batch.id, detector, report);
        await this.deps.repos.batches.completeIfFinished([batch.id]);
      } else {
        const work: Work = { stage: "ingest", jobId: jobIds.ingest(batch.id), batchId: batch.id };
        await this.ensure(
          work,
          report,
          async () => (await this.deps.repos.batches.find(batch.id))?.state === batch.state,
        );
      }
    }
    return report;
  }

  /**
   * Parts first, then the batch: a pass that cannot delete (S3 down) leaves the batch `uploading` for the next pass.
   * An upload still streaming after all loses the race in `finishUpload`, and deletes what it wrote since.
   */
  private async abandonedUploads(report: ReconcileReport): Promise<void> {
    const { uploads, repos } = this.deps;
    if (!uploads) return;
    const before = new Date(Date.now() - uploads.abandonedAfterMs);
    for (const batch of await repos.batches.abandonedUploads(before)) {
      await uploads.discard(batch);
      const minutes = Math.round(uploads.abandonedAfterMs / 60_000);
      const error = `${UPLOAD_ABANDONED}: the upload did not finish within ${minutes} min; its parts were deleted`;
      if (await repos.batches.failUpload(batch.id, error)) report.abandonedUploads += 1;
    }
  }

  private async posts(batchId: string, detector: string | undefined, report: ReconcileReport): Promise<void> {
    const { batches } = this.deps.repos;
    let after: string | null = null;
    const looked = new Set<string>();
    for (;;) {
      const page = await batches.unfinishedPosts(batchId, after, this.pageSize);
      if (!page.length) return;
      after = page.at(-1)!.id;
      report.posts += page.length;
      const works = page.flatMap((post) => {
        const work = this.expectedJob(batchId, post, detector);
        if (!work) report.waitingForModel += 1;
        else if (!looked.has(work.jobId)) {
          looked.add(work.jobId); // a range's job once, whichever of its posts came first
          return [{ post, work }];
        }
        return [];
      });
      // features work first: a range whose features job had failed then has its posts past featurization
      for (const stage of ["features", "predict"] as const)
        await Promise.all(
          works
            .filter(({ work }) => work.stage === stage)
            .map(async ({ post, work }) => {
              // a range's predict job comes once none of its posts waits for features (those have their features
              // job from this pass): one added earlier would miss the posts featurized after it read the range
              if (work.range && stage === "predict") {
                const waiting = await this.deps.repos.posts.inRange(work.range, ["pending", "featurizing"]);
                if (waiting.length) return;
              }
              // a finished job is acted on only if the post is still where it was when this page was read
              await this.ensure(work, report, async () => (await this.postState(post.id)) === post.state);
            }),
        );
      if (page.length < this.pageSize) return;
    }
  }

  /** The job that should carry a post now; undefined for a re-featurized post while no model serves. */
  private expectedJob(
    batchId: string,
    post: { id: string; seq: number; state: "pending" | "featurizing" | "predicting"; flags: string[] },
    detector: string | undefined,
  ): Work | undefined {
    const stage = post.state === "predicting" ? "predict" : "features";
    if (post.flags.includes(REFEATURIZED_FLAG)) {
      if (!detector) return undefined;
      const jobId =
        stage === "predict" ? jobIds.repredict(post.id, detector) : jobIds.refeaturize(post.id, detector);
      return { stage, jobId, batchId, postId: post.id };
    }
    const range = postRangeOf(batchId, post.seq);
    return { stage, jobId: jobIds[stage](range), batchId, range };
  }

  private async postState(postId: string): Promise<string | undefined> {
    return (await this.deps.repos.posts.forFeatures(postId))?.state;
  }

  /**
   * Gives `work` a live job: adds it when there is none, re-adds it when it completed, records the failure when it
   * failed for good; `unchanged` says whether the post or batch is still at the stage it was read at (a finished
   * job is acted on only then, since it may have finished just after the read).
   */
  private async ensure(
    work: Work,
    report: ReconcileReport,
    unchanged: () => Promise<boolean>,
  ): Promise<void> {
    const queue = this.deps.queues[work.stage] as Queue;
    const state = await queue.getJobState(work.jobId);
    if (LIVE.has(state)) return;
    const ids = { batchId: work.batchId, ...(work.postId ? { postId: work.postId } : {}), ...work.range };
    if (state === "failed") {
      if (!(await unchanged())) return;
      const job = await queue.getJob(work.jobId);
      // as the workers' onFinalFailure words it: ingest-failed, features-failed, predict-failed
      const reason = `${work.stage}-failed: ${job?.failedReason ?? "unknown"}`;
      this.deps.log.warn(
        { ...ids, jobId: work.jobId, reason },
        "recording a failure its worker could not record",
      );
      // a range's posts still at the job's stage fail; those it took further go on (their next job is looked at)
      if (work.range)
        await failRange(
          this.deps.repos,
          work.range,
          work.stage === "predict" ? ["predicting"] : ["pending", "featurizing"],
          reason,
        );
      else if (work.postId)
        await failPost(this.deps.repos, { batchId: work.batchId, postId: work.postId }, reason);
      else await this.deps.repos.batches.markFailed(work.batchId, reason);
      report.failuresRecorded += 1;
      return;
    }
    if (state === "completed") {
      if (!(await unchanged())) return;
      await queue.remove(work.jobId); // BullMQ never adds an id it still holds
    }
    this.deps.log.info(
      { ...ids, jobId: work.jobId, queue: work.stage, was: state },
      "queued again: no live job",
    );
    await queue.add(work.stage, (work.range ?? ids) as never, { jobId: work.jobId });
    report.requeued[work.stage] += 1;
  }
}

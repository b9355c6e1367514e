import type { BatchSource, BatchStateName } from "@lxtag/contracts";
import type { Db } from "./client.js";
import type { Batch } from "./generated/client.js";
import { PostState } from "./generated/enums.js";

export interface BatchSummary {
  id: string;
  state: BatchStateName;
  totalPosts: number;
  /** Records merged into an identical earlier post (not in totalPosts). */
  duplicatePosts: number;
  counts: Record<string, number>;
  /** Records of the export read so far, and how many it holds once its posts files are parsed (else null). */
  ingest: { postsRead: number; postsTotal: number | null };
  progress: number;
  createdAt: Date;
  ingestedAt: Date | null;
  finishedAt: Date | null;
  error: string | null;
  warnings: string[];
  errors: { reason: string; count: number }[];
}

const TERMINAL: readonly PostState[] = ["done", "failed"];
/**
 * The database's other post states (its enum's, so that a state added there counts as unfinished): named rather
 * than negated in queries, so that they are sought in (batch_id, state, seq).
 */
const UNFINISHED = Object.values(PostState).filter((s) => !TERMINAL.includes(s));

/**
 * What readiness and a batch's warnings say while no model version is active (a fresh install): posts are
 * featurized and wait, unfailed, until the trainer or an admin activates one.
 */
export const WAITING_FOR_FIRST_MODEL = "waiting for a first model";

/** How a batch's warning begins while it has posts to predict and a predict worker refused the active model. */
export const MODEL_REFUSED = "active model refused";

/** How a batch's warnings begin when some of its posts were predicted without their image. */
export const DEGRADED = "degraded";

export class Batches {
  constructor(private readonly db: Db) {}

  create(id: string, apiKeyId: string, source: BatchSource, options: object): Promise<Batch> {
    return this.db.prisma.batch.create({ data: { id, apiKeyId, source, options } });
  }

  /** A batch whose zip parts are still being uploaded: it exists before its first part is written to S3. */
  createUploading(id: string, apiKeyId: string): Promise<Batch> {
    return this.db.prisma.batch.create({
      data: { id, apiKeyId, state: "uploading", source: { type: "zip", keys: [] } },
    });
  }

  /**
   * The upload finished: the batch, still `uploading`, takes its parts and options and is `queued`. False when it
   * is no longer uploading (the reconciler gave it up as abandoned while the upload was still running).
   */
  async finishUpload(id: string, source: BatchSource, options: object): Promise<boolean> {
    const r = await this.db.prisma.batch.updateMany({
      where: { id, state: "uploading" },
      data: { state: "queued", source, options },
    });
    return r.count === 1;
  }

  /** Batches still `uploading` that were created before `before`: uploads no process is finishing any more. */
  async abandonedUploads(before: Date): Promise<{ id: string; apiKeyId: string }[]> {
    return this.db.prisma.batch.findMany({
      where: { state: "uploading", createdAt: { lt: before } },
      select: { id: true, apiKeyId: true },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    });
  }

  /** Fails the batch if it is still `uploading`; false when the upload finished (or was given up) meanwhile. */
  async failUpload(id: string, error: string): Promise<boolean> {
    const r = await this.db.prisma.batch.updateMany({
      where: { id, state: "uploading" },
      data: { state: "failed", error, finishedAt: new Date() },
    });
    return r.count === 1;
  }

  /** Removes a batch that was never accepted (its ingest job could not be queued); its posts go with it. */
  async delete(id: string): Promise<void> {
    await this.db.prisma.batch.deleteMany({ where: { id } });
  }

  /** The batch if it belongs to the key; another key's batch looks the same as a missing one. */
  findForKey(id: string, apiKeyId: string): Promise<Batch | null> {
    return this.db.prisma.batch.findFirst({ where: { id, apiKeyId } });
  }

  /**
   * A page of the key's batches, newest first, after the batch `cursor` (the last of the previous page). A cursor
   * that is not one of the key's batches ends the list, as an unknown one does: Prisma's own cursor finds its row
   * by id alone, so another key's batch id would have answered with the batches older than it (telling that it
   * exists, and when it was made).
   */
  async listForKey(apiKeyId: string, opts: { cursor?: string; limit: number }): Promise<Batch[]> {
    const after = opts.cursor ? await this.findForKey(opts.cursor, apiKeyId) : undefined;
    if (after === null) return [];
    return this.db.prisma.batch.findMany({
      where: {
        apiKeyId,
        ...(after && {
          OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }],
        }),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: opts.limit,
    });
  }

  find(id: string): Promise<Batch | null> {
    return this.db.prisma.batch.findUnique({ where: { id } });
  }

  async markIngesting(id: string): Promise<void> {
    await this.db.prisma.batch.update({ where: { id }, data: { state: "ingesting" } });
  }

  /** Ingest progress: `read` records stored and enqueued so far, of `total` (once the posts files are parsed). */
  async recordIngestProgress(id: string, read: number, total: number | null): Promise<void> {
    await this.db.pool.query(
      "UPDATE batches SET ingest_posts_read = $2, ingest_posts_total = $3 WHERE id = $1 AND state = 'ingesting'",
      [id, read, total],
    );
  }

  /**
   * Ingest finished: the batch counts its distinct posts, and how many of the `records` it read were merged into
   * an identical earlier one, and is done at once if no post is left to process.
   */
  async markIngested(id: string, warnings: string[], records?: number): Promise<number> {
    const r = await this.db.pool.query<{ total_posts: number }>(
      `WITH n AS (SELECT count(*)::int AS posts FROM posts WHERE batch_id = $1)
       UPDATE batches SET state = 'processing', warnings = $2::jsonb, ingested_at = now(), total_posts = n.posts,
              duplicate_posts = greatest(coalesce($3::int, n.posts) - n.posts, 0),
              ingest_posts_read = coalesce($3::int, n.posts), ingest_posts_total = coalesce($3::int, n.posts)
       FROM n WHERE id = $1 RETURNING total_posts`,
      [id, JSON.stringify(warnings), records ?? null],
    );
    await this.completeIfFinished([id]);
    return r.rows[0]?.total_posts ?? 0;
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.db.prisma.batch.update({
      where: { id },
      data: { state: "failed", error, finishedAt: new Date() },
    });
  }

  /**
   * Marks batches done whose posts are all terminal; called after every micro-batch with the batches it touched, so
   * it seeks an unfinished post rather than read past the finished ones (which grew with the batch).
   */
  async completeIfFinished(ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.db.pool.query(
      `UPDATE batches b SET state = 'done', finished_at = now()
       WHERE b.id = ANY($1::uuid[]) AND b.state = 'processing'
         AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.batch_id = b.id AND p.state = ANY($2::"PostState"[]))`,
      [ids, UNFINISHED],
    );
  }

  async summary(batch: Batch): Promise<BatchSummary> {
    const counts: Record<string, number> = { pending: 0, featurizing: 0, predicting: 0, done: 0, failed: 0 };
    const rows = await this.db.pool.query<{ state: string; n: string }>(
      "SELECT state, count(*) AS n FROM posts WHERE batch_id = $1 GROUP BY state",
      [batch.id],
    );
    for (const r of rows.rows) counts[r.state] = Number(r.n);
    const errors = await this.db.pool.query<{ reason: string; n: string }>(
      `SELECT coalesce(split_part(error, ':', 1), 'unknown') AS reason, count(*) AS n FROM posts
       WHERE batch_id = $1 AND state = 'failed' GROUP BY 1 ORDER BY 2 DESC LIMIT 20`,
      [batch.id],
    );
    const finished = TERMINAL.reduce((s, k) => s + (counts[k] ?? 0), 0);
    const denominator = batch.ingestedAt ? batch.totalPosts : (batch.ingestPostsTotal ?? 0);
    const warnings = [...((batch.warnings ?? []) as string[])]; // what markIngested writes
    warnings.push(...(await this.degradedWarning(batch.id)));
    const predicting = counts.predicting ?? 0;
    if (predicting > 0) {
      const active = await this.activeModel();
      const posts = `${predicting} ${predicting === 1 ? "post" : "posts"}`;
      if (!active)
        warnings.push(
          `${WAITING_FOR_FIRST_MODEL}: ${posts} ${predicting === 1 ? "waits" : "wait"} for prediction until one is activated`,
        );
      else if (active.refused)
        // the worker's error stays in the registry, for admin keys: it may name the worker's paths
        warnings.push(
          `${MODEL_REFUSED}: a predict worker refused the active model ${active.id} (it failed its warm-up run); ` +
            `of the ${posts} left to predict, those it takes go to the model it served before, or wait for another version`,
        );
    }
    return {
      id: batch.id,
      state: batch.state,
      totalPosts: batch.totalPosts,
      duplicatePosts: batch.duplicatePosts,
      counts,
      ingest: this.ingestProgress(batch),
      // while ingesting, the posts finished so far (predictions start before the export is read to its end) over
      // the records the export holds
      progress: denominator ? Math.min(1, finished / denominator) : batch.state === "done" ? 1 : 0,
      createdAt: batch.createdAt,
      ingestedAt: batch.ingestedAt,
      finishedAt: batch.finishedAt,
      error: batch.error,
      warnings,
      errors: errors.rows.map((r) => ({ reason: r.reason, count: Number(r.n) })),
    };
  }

  private ingestProgress(batch: Batch): BatchSummary["ingest"] {
    // a batch ingested before ingest progress was recorded counts what it ingested
    if (batch.ingestedAt && batch.ingestPostsTotal === null) {
      const records = batch.totalPosts + batch.duplicatePosts;
      return { postsRead: records, postsTotal: records };
    }
    return { postsRead: batch.ingestPostsRead, postsTotal: batch.ingestPostsTotal };
  }

  /**
   * Says how many posts were predicted without their image although they had one, and why, from their flags:
   * `image-error:<reason>` (featurization found it missing, too large, undecodable, at a refused address) or
   * `roi-missing` (its RoI object was gone). An outage never degrades a post (its job is retried), so this counts
   * what no retry could fix; posts without an image to begin with (captions, videos) are not degraded.
   */
  private async degradedWarning(batchId: string): Promise<string[]> {
    const r = await this.db.pool.query<{ flag: string; n: string }>(
      // one reason per post: its image error when featurization had one (its RoI object is then missing too)
      `SELECT coalesce((SELECT f FROM unnest(p.flags) f WHERE f LIKE 'image-error:%' ORDER BY f LIMIT 1),
                       'roi-missing') AS flag,
              count(*) AS n
       FROM posts p
       WHERE p.batch_id = $1 AND p.state = 'done'
         -- both kinds are flagged caption-only too: a cheap test first (a third of the time at 6,600 posts), as
         -- clients poll this with every summary
         AND p.flags @> ARRAY['caption-only']
         AND EXISTS (SELECT 1 FROM unnest(p.flags) f WHERE f = 'roi-missing' OR f LIKE 'image-error:%')
       GROUP BY 1 ORDER BY 2 DESC, 1`,
      [batchId],
    );
    const total = r.rows.reduce((sum, row) => sum + Number(row.n), 0);
    if (!total) return [];
    const why = r.rows.map((row) => `${row.n} ${row.flag}`).join(", ");
    return [
      `${DEGRADED}: ${total} ${total === 1 ? "post was" : "posts were"} predicted from the caption alone (${why})`,
    ];
  }

  /**
   * Batches not finished (queued, ingesting or processing), oldest first: what the reconciler looks after (uploads
   * still running have no job to look after; `abandonedUploads` finds those that stopped).
   */
  async unfinished(): Promise<{ id: string; state: "queued" | "ingesting" | "processing" }[]> {
    const r = await this.db.pool.query(
      `SELECT id, state FROM batches WHERE state IN ('queued', 'ingesting', 'processing') ORDER BY created_at, id`,
    );
    return r.rows;
  }

  /** A page of a batch's posts that are not finished (neither done nor failed), in id order after `afterId`. */
  async unfinishedPosts(
    batchId: string,
    afterId: string | null,
    limit: number,
  ): Promise<
    { id: string; seq: number; state: "pending" | "featurizing" | "predicting"; flags: string[] }[]
  > {
    const r = await this.db.pool.query(
      `SELECT id, seq, state, flags FROM posts
       WHERE batch_id = $1 AND state = ANY($4::"PostState"[]) AND ($2::uuid IS NULL OR id > $2::uuid)
       ORDER BY id LIMIT $3`,
      [batchId, afterId, limit, UNFINISHED],
    );
    return r.rows;
  }

  /**
   * The active version, if any (predict workers without one take no jobs), and whether a predict worker refused
   * it; the registry's `active()` reads the whole row, manifest included, which a summary does not need.
   */
  private async activeModel(): Promise<{ id: string; refused: boolean } | undefined> {
    const r = await this.db.pool.query<{ id: string; refused: boolean }>(
      `SELECT id, refused_at IS NOT NULL AS refused FROM model_versions WHERE state = 'active'
       ORDER BY activated_at DESC LIMIT 1`,
    );
    return r.rows[0];
  }
}

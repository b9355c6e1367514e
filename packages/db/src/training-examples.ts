import type { Db } from "./client.js";

/** A post a training run may learn from, with its caption hashtags and its human corrections. */
export interface TrainingPost {
  id: string;
  /** The caption as exported: a run derives the model's texts from it with today's caption rule, whatever rule
   * ingest stored `model_text` with. */
  caption: string;
  /** When the post was published (the export's timestamp); null when the export did not say. */
  takenAt: Date | null;
  /** When lxtag stored the post. */
  createdAt: Date;
  /** The image the features were computed from; null: the post has no usable image (caption only). */
  imageSha256: string | null;
  /** Hashtags of the caption. */
  hashtags: string[];
  /** Human labels: positives add a hashtag, negatives remove one (caption hashtags included). */
  added: string[];
  removed: string[];
}

/** Posts by whether a run may read them; what the data filters report before they start. */
export interface TrainingPostCounts {
  /** Featurized or done, in batches whose owner allows training: what `list` returns. */
  eligible: number;
  /** Featurized or done, in batches whose owner opted out (`allowTraining: false`). */
  notAllowed: number;
  /** Not featurized yet (pending, featurizing) or failed before featurization. */
  notReady: number;
}

// A post is ready once its features exist (or it is done): on a fresh install no model predicts yet, so posts wait
// in `predicting` with their features cached. Batches stored before `allowTraining` existed allow training.
const READY = "(p.state = 'done' OR p.featurized_at IS NOT NULL)";
const ALLOWED = "coalesce((b.options->>'allowTraining')::boolean, true)";

/** The labeled rows the trainer learns from: caption hashtags plus human corrections. */
export class TrainingExamples {
  constructor(private readonly db: Db) {}

  /**
   * Every eligible post (see {@link TrainingPostCounts}), in id order, read in pages of `pageSize`; throws the
   * signal's reason before the next page once `signal` is aborted (a training run that lost its lock).
   */
  async list({
    pageSize = 5000,
    signal,
  }: {
    pageSize?: number;
    signal?: AbortSignal;
  } = {}): Promise<TrainingPost[]> {
    const out: TrainingPost[] = [];
    let after = "00000000-0000-0000-0000-000000000000";
    for (;;) {
      signal?.throwIfAborted();
      const r = await this.db.pool.query<TrainingPost>(
        `SELECT p.id, p.caption, p.taken_at AS "takenAt", p.created_at AS "createdAt", p.image_sha256 AS "imageSha256", p.hashtags,
                coalesce((SELECT array_agg(l.hashtag ORDER BY l.hashtag) FROM labels l
                          WHERE l.post_id = p.id AND l.positive), '{}') AS added,
                coalesce((SELECT array_agg(l.hashtag ORDER BY l.hashtag) FROM labels l
                          WHERE l.post_id = p.id AND NOT l.positive), '{}') AS removed
         FROM posts p JOIN batches b ON b.id = p.batch_id
         WHERE ${READY} AND ${ALLOWED} AND p.id > $1::uuid
         ORDER BY p.id LIMIT $2`,
        [after, pageSize],
      );
      out.push(...r.rows);
      if (r.rows.length < pageSize) return out;
      after = r.rows.at(-1)!.id;
    }
  }

  async counts(): Promise<TrainingPostCounts> {
    const r = await this.db.pool.query<{ eligible: string; not_allowed: string; not_ready: string }>(
      `SELECT count(*) FILTER (WHERE ${READY} AND ${ALLOWED}) AS eligible,
              count(*) FILTER (WHERE ${READY} AND NOT ${ALLOWED}) AS not_allowed,
              count(*) FILTER (WHERE NOT ${READY}) AS not_ready
       FROM posts p JOIN batches b ON b.id = p.batch_id`,
    );
    const row = r.rows[0]!;
    return {
      eligible: Number(row.eligible),
      notAllowed: Number(row.not_allowed),
      notReady: Number(row.not_ready),
    };
  }

  /**
   * What arrived after `since` that a run may learn from: eligible posts with caption hashtags that became ready
   * since, and human labels written since (a label corrected again counts again) on eligible posts.
   */
  async newSince(since: Date): Promise<{ posts: number; labels: number }> {
    const r = await this.db.pool.query<{ posts: string; labels: string }>(
      `SELECT
         (SELECT count(*) FROM posts p JOIN batches b ON b.id = p.batch_id
          WHERE ${READY} AND ${ALLOWED} AND cardinality(p.hashtags) > 0
            AND coalesce(p.featurized_at, p.finished_at, p.created_at) > $1) AS posts,
         (SELECT count(*) FROM labels l JOIN posts p ON p.id = l.post_id JOIN batches b ON b.id = p.batch_id
          WHERE ${READY} AND ${ALLOWED} AND l.created_at > $1) AS labels`,
      [since],
    );
    return { posts: Number(r.rows[0]!.posts), labels: Number(r.rows[0]!.labels) };
  }
}

import { createHash } from "node:crypto";
import type { Db } from "./client.js";

export interface NewMedia {
  position: number;
  uri: string;
  kind: "image" | "video" | "unknown";
  mime: string | null;
  present: boolean;
  sha256: string | null;
  objectKey: string | null;
  bytes: number | null;
}

export interface NewPost {
  seq: number;
  externalId: string | null;
  dedupKey: string;
  kind: string;
  sourceFile: string | null;
  caption: string;
  modelText: string;
  takenAt: string | null;
  takenAtRaw: string | null;
  flags: string[];
  imageKey: string | null;
  imageSha256: string | null;
  media: NewMedia[];
  hashtags: string[];
  /** Set when the post is malformed: it is stored as failed with this reason, and the batch goes on. */
  failReason: string | null;
}

export interface RankedHashtag {
  hashtag: string;
  score: number;
}

/** Post ids derive from (batch, dedup key): a retried ingest job produces the same ids, so nothing doubles. */
export function postId(batchId: string, dedupKey: string): string {
  const h = createHash("sha256").update(`${batchId}\0${dedupKey}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface PostForFeatures {
  id: string;
  batchId: string;
  state: string;
  imageKey: string | null;
  imageSha256: string | null;
  flags: string[];
}

export interface PostForPredict {
  id: string;
  batchId: string;
  state: string;
  modelText: string;
  imageSha256: string | null;
  flags: string[];
}

export class Posts {
  constructor(private readonly db: Db) {}

  /**
   * Inserts posts with their media and caption labels in one transaction; returns the ids of posts still to
   * be processed (new ones, and earlier ones a crashed ingest left pending), in `seq` order.
   */
  async insertMany(batchId: string, posts: NewPost[]): Promise<string[]> {
    if (!posts.length) return [];
    const rows = posts.map((p) => ({ ...p, id: postId(batchId, p.dedupKey) }));
    const client = await this.db.pool.connect();
    try {
      await client.query("BEGIN");
      const res = await client.query<{ id: string; state: string }>(
        `INSERT INTO posts (id, batch_id, seq, external_id, dedup_key, kind, source_file, caption, model_text,
                            taken_at, taken_at_raw, flags, image_key, image_sha256, state, error, finished_at)
         SELECT (e->>'id')::uuid, $2::uuid, (e->>'seq')::int, e->>'externalId', e->>'dedupKey', e->>'kind',
                e->>'sourceFile', e->>'caption', e->>'modelText', (e->>'takenAt')::timestamptz, e->>'takenAtRaw',
                ARRAY(SELECT jsonb_array_elements_text(e->'flags')), e->>'imageKey', e->>'imageSha256',
                CASE WHEN e->>'failReason' IS NULL THEN 'pending' ELSE 'failed' END::"PostState", e->>'failReason',
                CASE WHEN e->>'failReason' IS NULL THEN NULL ELSE now() END
         FROM jsonb_array_elements($1::jsonb) e
         ON CONFLICT (batch_id, dedup_key) DO UPDATE SET dedup_key = EXCLUDED.dedup_key
         RETURNING id, state`,
        [JSON.stringify(rows.map(({ media: _m, hashtags: _h, ...p }) => p)), batchId],
      );
      const media = rows.flatMap((p) => p.media.map((m) => ({ ...m, postId: p.id })));
      if (media.length)
        await client.query(
          `INSERT INTO media (post_id, position, uri, kind, mime, present, sha256, object_key, bytes)
           SELECT (e->>'postId')::uuid, (e->>'position')::int, e->>'uri', (e->>'kind')::"MediaKind", e->>'mime',
                  (e->>'present')::boolean, e->>'sha256', e->>'objectKey', (e->>'bytes')::int
           FROM jsonb_array_elements($1::jsonb) e ON CONFLICT DO NOTHING`,
          [JSON.stringify(media)],
        );
      const labels = rows.flatMap((p) => p.hashtags.map((hashtag) => ({ postId: p.id, hashtag })));
      if (labels.length)
        await client.query(
          `INSERT INTO labels (post_id, hashtag, positive, source)
           SELECT (e->>'postId')::uuid, e->>'hashtag', true, 'caption' FROM jsonb_array_elements($1::jsonb) e
           ON CONFLICT DO NOTHING`,
          [JSON.stringify(labels)],
        );
      await client.query("COMMIT");
      return res.rows.filter((r) => r.state === "pending").map((r) => r.id);
    } catch (err) {
      await client.query("ROLLBACK");
      throw err;
    } finally {
      client.release();
    }
  }

  async forFeatures(id: string): Promise<PostForFeatures | null> {
    const r = await this.db.pool.query(
      `SELECT id, batch_id AS "batchId", state, image_key AS "imageKey", image_sha256 AS "imageSha256", flags
       FROM posts WHERE id = $1`,
      [id],
    );
    return r.rows[0] ?? null;
  }

  async forPredict(ids: string[]): Promise<PostForPredict[]> {
    const r = await this.db.pool.query(
      `SELECT id, batch_id AS "batchId", state, model_text AS "modelText", image_sha256 AS "imageSha256", flags
       FROM posts WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return r.rows;
  }

  /** Features are cached (or the post has no usable image, flagged): it moves on to prediction. */
  async markFeaturized(id: string, imageSha256: string | null, addFlags: string[] = []): Promise<void> {
    await this.db.pool.query(
      `UPDATE posts SET state = 'predicting', image_sha256 = coalesce($2, image_sha256), featurized_at = now(),
              flags = ARRAY(SELECT DISTINCT unnest(flags || $3::text[]))
       WHERE id = $1 AND state IN ('pending', 'featurizing')`,
      [id, imageSha256, addFlags],
    );
  }

  /** A post that cannot be processed fails alone, with its reason; the batch goes on. */
  async markFailed(id: string, reason: string): Promise<void> {
    await this.db.pool.query(
      `UPDATE posts SET state = 'failed', error = $2, finished_at = now() WHERE id = $1 AND state <> 'done'`,
      [id, reason.slice(0, 2000)],
    );
  }

  /** Writes the ranked hashtags and marks the posts done, atomically and idempotently. */
  async savePredictions(
    modelVersionId: string,
    results: { postId: string; ranked: RankedHashtag[] }[],
  ): Promise<void> {
    if (!results.length) return;
    const rows = results.flatMap((r) =>
      r.ranked.map((h, i) => ({ p: r.postId, r: i + 1, h: h.hashtag, s: h.score })),
    );
    const client = await this.db.pool.connect();
    try {
      await client.query("BEGIN");
      if (rows.length)
        await client.query(
          `INSERT INTO predictions (post_id, model_version_id, rank, hashtag, score)
           SELECT (e->>'p')::uuid, $2, (e->>'r')::int, e->>'h', (e->>'s')::real FROM jsonb_array_elements($1::jsonb) e
           ON CONFLICT (post_id, model_version_id, rank) DO UPDATE SET hashtag = EXCLUDED.hashtag, score = EXCLUDED.score`,
          [JSON.stringify(rows), modelVersionId],
        );
      await client.query(
        `UPDATE posts SET state = 'done', finished_at = coalesce(finished_at, now()), error = NULL
         WHERE id = ANY($1::uuid[]) AND state <> 'failed'`,
        [results.map((r) => r.postId)],
      );
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK");
      throw err;
    } finally {
      client.release();
    }
  }
}

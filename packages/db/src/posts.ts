import { createHash } from "node:crypto";
import { type PostRange, type PostStateName, REFEATURIZED_FLAG } from "@lxtag/contracts";
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

/** A post of a range as its range jobs read it: what featurizing and predicting it need. */
export type PostInRange = PostForFeatures & PostForPredict;

/**
 * What the review desk orders and filters a post by, from its ranked hashtags: the least certain score's distance
 * from 0.5 (`u`), the best score (`t`), the hashtags in rank order (`h`). Scores are taken as Postgres stores them
 * (`real`), so the columns agree with the predictions' scores to the bit. Null `u` and `t` when nothing was ranked.
 */
function reviewColumns(ranked: RankedHashtag[]): { u: number | null; t: number | null; h: string[] } {
  if (!ranked.length) return { u: null, t: null, h: [] };
  const scores = ranked.map((r) => Math.fround(r.score));
  return {
    u: Math.min(...scores.map((s) => Math.abs(s - 0.5))),
    t: Math.max(...scores),
    h: ranked.map((r) => r.hashtag),
  };
}

export class Posts {
  constructor(private readonly db: Db) {}

  /**
   * Inserts posts (with their caption hashtags) and their media in one transaction; returns the ids of posts still to
   * be processed (new ones, and earlier ones a crashed ingest left pending), in `seq` order.
   */
  async insertMany(batchId: string, posts: NewPost[]): Promise<string[]> {
    if (!posts.length) return [];
    // identical posts are one post; the first keeps its place (an upsert cannot touch one row twice per statement)
    const seen = new Set<string>();
    const unique = posts.filter((p) => !seen.has(p.dedupKey) && seen.add(p.dedupKey));
    const rows = unique.map((p) => ({ ...p, id: postId(batchId, p.dedupKey) }));
    const client = await this.db.pool.connect();
    try {
      await client.query("BEGIN");
      // Ingest is idempotent (a retried job writes the same rows), so losing the last few commits in a crash
      // costs nothing but a retry: skip the per-chunk WAL flush wait.
      await client.query("SET LOCAL synchronous_commit = off");
      // unnest over typed arrays: one round trip per table, cheaper to parse than JSON
      const col = <K extends keyof NewPost>(k: K) => rows.map((p) => p[k]);
      const res = await client.query<{ id: string; state: string }>(
        `INSERT INTO posts (id, batch_id, seq, external_id, dedup_key, kind, source_file, caption, model_text,
                            taken_at, taken_at_raw, flags, hashtags, image_key, image_sha256, state, error, finished_at)
         SELECT u.id, $1::uuid, u.seq, u.external_id, u.dedup_key, u.kind, u.source_file, u.caption, u.model_text,
                u.taken_at, u.taken_at_raw, string_to_array(u.flags, ','), string_to_array(u.hashtags, ','),
                u.image_key, u.image_sha256,
                CASE WHEN u.fail_reason IS NULL THEN 'pending' ELSE 'failed' END::"PostState", u.fail_reason,
                CASE WHEN u.fail_reason IS NULL THEN NULL ELSE now() END
         FROM unnest($2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                     $10::timestamptz[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
              AS u(id, seq, external_id, dedup_key, kind, source_file, caption, model_text, taken_at, taken_at_raw,
                   flags, hashtags, image_key, image_sha256, fail_reason)
         ON CONFLICT (batch_id, dedup_key) DO UPDATE SET dedup_key = EXCLUDED.dedup_key
         RETURNING id, state`,
        [
          batchId,
          rows.map((p) => p.id),
          col("seq"),
          col("externalId"),
          col("dedupKey"),
          col("kind"),
          col("sourceFile"),
          col("caption"),
          col("modelText"),
          col("takenAt"),
          col("takenAtRaw"),
          // flags are lxtag's own tokens and hashtags are letters, marks, digits and '_': neither holds a ','
          rows.map((p) => p.flags.join(",")),
          rows.map((p) => p.hashtags.join(",")),
          col("imageKey"),
          col("imageSha256"),
          col("failReason"),
        ],
      );
      const media = rows.flatMap((p) => p.media.map((m) => ({ ...m, postId: p.id })));
      if (media.length) {
        const m = <K extends keyof (typeof media)[number]>(k: K) => media.map((x) => x[k]);
        await client.query(
          `INSERT INTO media (post_id, position, uri, kind, mime, present, sha256, object_key, bytes)
           SELECT u.post_id, u.position, u.uri, u.kind::"MediaKind", u.mime, u.present, u.sha256, u.object_key, u.bytes
           FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::text[], $8::text[], $9::int[])
                AS u(post_id, position, uri, kind, mime, present, sha256, object_key, bytes)
           ON CONFLICT DO NOTHING`,
          [
            m("postId"),
            m("position"),
            m("uri"),
            m("kind"),
            m("mime"),
            m("present"),
            m("sha256"),
            m("objectKey"),
            m("bytes"),
          ],
        );
      }
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

  /**
   * The posts of a range (`seq` in `[fromSeq, fromSeq + size)`) in one of `states`, in seq order, that its range
   * jobs carry: a post sent back to featurization has jobs of its own (`jobIds.refeaturize`, `jobIds.repredict`).
   * `sentBack` adds the range's posts waiting for those (`featurizing`, flagged): a predict job's attempt may have
   * sent one back and failed before adding its features job, which the retry then adds.
   */
  async inRange(
    range: PostRange,
    states: PostStateName[],
    { sentBack = false } = {},
  ): Promise<PostInRange[]> {
    const r = await this.db.pool.query(
      `SELECT id, batch_id AS "batchId", state, image_key AS "imageKey", image_sha256 AS "imageSha256", flags,
              model_text AS "modelText"
       FROM posts
       WHERE batch_id = $1 AND seq >= $2 AND seq < $2 + $3
         AND CASE WHEN $5 = ANY(flags) THEN $6 AND state = 'featurizing' ELSE state = ANY($4::"PostState"[]) END
       ORDER BY seq`,
      [range.batchId, range.fromSeq, range.size, states, REFEATURIZED_FLAG, sentBack],
    );
    return r.rows;
  }

  /** Fails a range's posts (those its jobs carry, as `inRange`) still in one of `states`; returns how many. */
  async failInRange(range: PostRange, states: PostStateName[], reason: string): Promise<number> {
    const r = await this.db.pool.query(
      `UPDATE posts SET state = 'failed', error = $6, finished_at = now()
       WHERE batch_id = $1 AND seq >= $2 AND seq < $2 + $3 AND state = ANY($4::"PostState"[])
         AND NOT ($5 = ANY(flags))`,
      [range.batchId, range.fromSeq, range.size, states, REFEATURIZED_FLAG, reason.slice(0, 2000)],
    );
    return r.rowCount ?? 0;
  }

  /** A post's stored image (its S3 key, or an https URL for JSON posts), if the post is of the key's batches. */
  async imageForKey(
    id: string,
    apiKeyId: string,
  ): Promise<{ imageKey: string | null; imageSha256: string | null } | null> {
    const r = await this.db.pool.query(
      `SELECT p.image_key AS "imageKey", p.image_sha256 AS "imageSha256" FROM posts p
       JOIN batches b ON b.id = p.batch_id WHERE p.id = $1 AND b.api_key_id = $2`,
      [id, apiKeyId],
    );
    return r.rows[0] ?? null;
  }

  /** The posts of `ids` that exist, in the order of `ids`. */
  async forPredict(ids: string[]): Promise<PostForPredict[]> {
    const r = await this.db.pool.query(
      `SELECT id, batch_id AS "batchId", state, model_text AS "modelText", image_sha256 AS "imageSha256", flags
       FROM posts WHERE id = ANY($1::uuid[]) ORDER BY array_position($1::uuid[], id)`,
      [ids],
    );
    return r.rows;
  }

  /**
   * A batch's finished posts whose newest predictions are not `modelVersionId`'s: what a relabel with that model
   * re-predicts. Posts that share an image come one after another (then in seq order), so they land in the same
   * relabel job and micro-batch, which reads and decodes that image's RoI object once for all of them.
   */
  async toRelabel(batchId: string, modelVersionId: string): Promise<string[]> {
    const r = await this.db.pool.query<{ id: string }>(
      `SELECT p.id FROM posts p
       WHERE p.batch_id = $1 AND p.state = 'done'
         AND (SELECT model_version_id FROM predictions WHERE post_id = p.id ORDER BY created_at DESC LIMIT 1)
             IS DISTINCT FROM $2
       ORDER BY p.image_sha256 NULLS LAST, p.seq`,
      [batchId, modelVersionId],
    );
    return r.rows.map((row) => row.id);
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

  /**
   * Sends a post waiting for prediction back to featurization, flagged `refeaturized`: its image has no RoI object
   * for the serving model's detector. Once per post: false when it was not predicting or was sent back before.
   */
  async markRefeaturizing(id: string): Promise<boolean> {
    const r = await this.db.pool.query(
      `UPDATE posts SET state = 'featurizing', flags = flags || ARRAY[$2::text]
       WHERE id = $1 AND state = 'predicting' AND NOT $2::text = ANY(flags)`,
      [id, REFEATURIZED_FLAG],
    );
    return r.rowCount === 1;
  }

  /** A post that cannot be processed fails alone, with its reason; the batch goes on. */
  async markFailed(id: string, reason: string): Promise<void> {
    await this.db.pool.query(
      `UPDATE posts SET state = 'failed', error = $2, finished_at = now() WHERE id = $1 AND state <> 'done'`,
      [id, reason.slice(0, 2000)],
    );
  }

  /**
   * Writes the ranked hashtags and marks the posts done, atomically (one statement: one round trip, where a
   * transaction took four) and idempotently; a post failed meanwhile gets neither. Returns the ids of the posts it
   * wrote.
   */
  async savePredictions(
    modelVersionId: string,
    results: { postId: string; ranked: RankedHashtag[]; flags?: string[] }[],
  ): Promise<string[]> {
    if (!results.length) return [];
    // flags found while predicting (e.g. the RoI object is gone) are added, each once, in the order they were first
    // set; beside them what the review desk filters and orders by (results.ts), from these predictions, which are
    // now the post's newest (a model that ranked nothing writes no row and leaves the older ones'). One row a post:
    // its hashtags and scores in rank order. A data-modifying WITH runs whether or not the statement reads it.
    const r = await this.db.pool.query<{ id: string }>(
      `WITH u AS (
         SELECT (e->>'id')::uuid AS id, ARRAY(SELECT jsonb_array_elements_text(e->'flags')) AS flags,
                (e->>'u')::float8 AS uncertainty, (e->>'t')::real AS top_score,
                ARRAY(SELECT h FROM jsonb_array_elements_text(e->'h') WITH ORDINALITY t(h, i) ORDER BY i) AS hashtags,
                ARRAY(SELECT s::real FROM jsonb_array_elements_text(e->'s') WITH ORDINALITY t(s, i) ORDER BY i) AS scores
         FROM jsonb_array_elements($1::jsonb) e),
       saved AS (
         INSERT INTO predictions (post_id, model_version_id, hashtags, scores)
         SELECT u.id, $2, u.hashtags, u.scores FROM u JOIN posts p ON p.id = u.id
         WHERE cardinality(u.hashtags) > 0 AND p.state <> 'failed'
         ON CONFLICT (post_id, model_version_id)
         DO UPDATE SET hashtags = EXCLUDED.hashtags, scores = EXCLUDED.scores, created_at = now())
       UPDATE posts p SET state = 'done', finished_at = coalesce(p.finished_at, now()), error = NULL,
         flags = ARRAY(SELECT f FROM unnest(p.flags || u.flags) WITH ORDINALITY t(f, i) GROUP BY f ORDER BY min(i)),
         uncertainty = coalesce(u.uncertainty, p.uncertainty), top_score = coalesce(u.top_score, p.top_score),
         predicted_hashtags = CASE WHEN cardinality(u.hashtags) > 0 THEN u.hashtags ELSE p.predicted_hashtags END
       FROM u
       WHERE p.id = u.id AND p.state <> 'failed'
       RETURNING p.id`,
      [
        JSON.stringify(
          results.map((r) => ({
            id: r.postId,
            flags: r.flags ?? [],
            s: r.ranked.map((h) => h.score),
            ...reviewColumns(r.ranked),
          })),
        ),
        modelVersionId,
      ],
    );
    return r.rows.map((row) => row.id);
  }
}

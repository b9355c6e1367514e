import type { PostStateName } from "@lxtag/contracts";
import type { Db } from "./client.js";

export interface PostResult {
  id: string;
  seq: number;
  externalId: string | null;
  /** The export's creation timestamp. */
  takenAt: Date | null;
  /** The export's media URIs, in order. */
  mediaUris: string[];
  kind: string;
  state: PostStateName;
  error: string | null;
  caption: string;
  flags: string[];
  labels: string[];
  modelVersion: string | null;
  /** `inCaption`: the caption already has the hashtag. */
  hashtags: { hashtag: string; score: number; rank: number; inCaption: boolean }[];
}

// The newest model's predictions for each post, each saying whether the caption has it, with the post's labels:
// the caption's hashtags and human additions, less human removals; and the post's identity in its export.
const SELECT_RESULTS = `
  SELECT p.id, p.seq, p.external_id AS "externalId", p.taken_at AS "takenAt",
         coalesce((SELECT array_agg(m.uri ORDER BY m.position) FROM media m WHERE m.post_id = p.id), '{}') AS "mediaUris",
         p.kind, p.state, p.error, p.caption, p.flags,
         coalesce((SELECT array_agg(t ORDER BY t) FROM (
                     SELECT unnest(p.hashtags) AS t
                     UNION SELECT l.hashtag FROM labels l WHERE l.post_id = p.id AND l.positive
                     EXCEPT SELECT n.hashtag FROM labels n WHERE n.post_id = p.id AND NOT n.positive) s),
                  '{}') AS labels,
         latest.model_version_id AS "modelVersion",
         coalesce((SELECT json_agg(json_build_object('hashtag', pr.hashtag, 'score', pr.score, 'rank', pr.rank,
                                             'inCaption', pr.hashtag = ANY(p.hashtags)) ORDER BY pr.rank)
                   FROM predictions pr WHERE pr.post_id = p.id AND pr.model_version_id = latest.model_version_id), '[]') AS hashtags
  FROM posts p
  LEFT JOIN LATERAL (SELECT model_version_id FROM predictions WHERE post_id = p.id ORDER BY created_at DESC LIMIT 1) latest ON true`;

export class Results {
  constructor(private readonly db: Db) {}

  /** One page of a batch's posts after `cursor` (a seq), optionally in one state. */
  async page(
    batchId: string,
    opts: { state?: string; cursor?: number; limit: number },
  ): Promise<{ posts: PostResult[]; nextCursor: number | null }> {
    const r = await this.db.pool.query<PostResult>(
      `${SELECT_RESULTS} WHERE p.batch_id = $1 AND p.seq > $2 AND ($3::"PostState" IS NULL OR p.state = $3::"PostState")
       ORDER BY p.seq LIMIT $4`,
      [batchId, opts.cursor ?? -1, opts.state ?? null, opts.limit],
    );
    const last = r.rows.at(-1);
    return { posts: r.rows, nextCursor: r.rows.length === opts.limit && last ? last.seq : null };
  }

  /** Every post of a batch, page by page (for NDJSON/CSV streaming without holding the batch in memory). */
  async *all(batchId: string, pageSize = 500): AsyncGenerator<PostResult> {
    let cursor: number | null = -1;
    while (cursor !== null) {
      const page: { posts: PostResult[]; nextCursor: number | null } = await this.page(batchId, {
        cursor,
        limit: pageSize,
      });
      yield* page.posts;
      cursor = page.nextCursor;
    }
  }

  /** One post, if it belongs to a batch of this API key. */
  async post(id: string, apiKeyId: string): Promise<(PostResult & { batchId: string }) | null> {
    const r = await this.db.pool.query(
      `SELECT q.*, p.batch_id AS "batchId" FROM (${SELECT_RESULTS} WHERE p.id = $1) q
       JOIN posts p ON p.id = q.id JOIN batches b ON b.id = p.batch_id WHERE b.api_key_id = $2`,
      [id, apiKeyId],
    );
    return r.rows[0] ?? null;
  }
}

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
  /** The model whose predictions the newest replaced (a relabel keeps them); null with one model or none. */
  previousModelVersion: string | null;
  /** `inCaption`: the caption already has the hashtag. */
  hashtags: { hashtag: string; score: number; rank: number; inCaption: boolean }[];
}

/** What a page of a batch's posts may be filtered and ordered by (GET /v1/batches/:id/posts). */
export interface PostPageQuery {
  state?: string;
  /** The seq after which a page in seq order starts. */
  cursor?: number;
  limit: number;
  /** Only posts with this flag. */
  flag?: string;
  /** Only posts whose newest predictions rank this hashtag, or whose caption or human labels add it. */
  hashtag?: string;
  /** Only posts whose best newest score is below this. */
  scoreBelow?: number;
  /** `seq` (the default) or `uncertainty`: the least certain posts first. */
  order?: "seq" | "uncertainty";
  /** A page's `next`: `<seq>`, or `<distance>:<seq>` in uncertainty order; wins over `cursor`. */
  after?: string;
}

export interface ResultsPage {
  posts: PostResult[];
  /** The last seq of a full page in seq order, else null. */
  nextCursor: number | null;
  /** Where the next page starts, in either order; null after the last page. */
  next: string | null;
}

function parseToken(token: string | undefined): { distance: number | null; seq: number } | null {
  if (!token) return null;
  const i = token.indexOf(":");
  return i < 0
    ? { distance: null, seq: Number(token) }
    : { distance: Number(token.slice(0, i)), seq: Number(token.slice(i + 1)) };
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
         (SELECT pv.model_version_id FROM predictions pv
          WHERE pv.post_id = p.id AND pv.model_version_id <> latest.model_version_id
          ORDER BY pv.created_at DESC LIMIT 1) AS "previousModelVersion",
         coalesce((SELECT json_agg(json_build_object('hashtag', pr.hashtag, 'score', pr.score, 'rank', pr.rank,
                                             'inCaption', pr.hashtag = ANY(p.hashtags)) ORDER BY pr.rank)
                   FROM predictions pr WHERE pr.post_id = p.id AND pr.model_version_id = latest.model_version_id), '[]') AS hashtags
  FROM posts p
  LEFT JOIN LATERAL (SELECT model_version_id FROM predictions WHERE post_id = p.id ORDER BY created_at DESC LIMIT 1) latest ON true`;

export class Results {
  constructor(private readonly db: Db) {}

  /**
   * One page of a batch's posts: in seq order after `cursor` (a seq), or in either order after `after` (a page's
   * `next`), filtered by state, flag, hashtag and best score. Two steps, so that a page costs the same at any depth
   * of a large batch: the page's ids by keyset over an index, then the results of those ids alone.
   */
  async page(batchId: string, opts: PostPageQuery): Promise<ResultsPage> {
    const order = opts.order ?? "seq";
    const token = parseToken(opts.after);
    const params: unknown[] = [batchId];
    const arg = (v: unknown) => `$${params.push(v)}`;
    const where = ["p.batch_id = $1"];
    if (opts.state) where.push(`p.state = ${arg(opts.state)}::"PostState"`);
    if (opts.flag) where.push(`${arg(opts.flag)}::text = ANY(p.flags)`);
    if (opts.hashtag) {
      const h = arg(opts.hashtag.replace(/^#/, "").toLowerCase());
      where.push(
        `(EXISTS (SELECT 1 FROM predictions pr WHERE pr.post_id = p.id
                    AND pr.model_version_id = latest.model_version_id AND pr.hashtag = ${h})
          OR ${h} = ANY(p.hashtags)
          OR EXISTS (SELECT 1 FROM labels l WHERE l.post_id = p.id AND l.hashtag = ${h} AND l.positive))`,
      );
    }
    if (opts.scoreBelow !== undefined)
      where.push(
        `(SELECT max(pr.score) FROM predictions pr
          WHERE pr.post_id = p.id AND pr.model_version_id = latest.model_version_id) < ${arg(opts.scoreBelow)}`,
      );
    // the newest predictions' model, joined only when a filter or the order reads it
    const latest =
      opts.hashtag || opts.scoreBelow !== undefined || order === "uncertainty"
        ? `LEFT JOIN LATERAL (SELECT model_version_id FROM predictions WHERE post_id = p.id
                              ORDER BY created_at DESC LIMIT 1) latest ON true`
        : "";
    let keys: { id: string; seq: number; distance?: number }[];
    if (order === "seq") {
      where.push(`p.seq > ${arg(token?.seq ?? opts.cursor ?? -1)}`);
      keys = (
        await this.db.pool.query(
          `SELECT p.id, p.seq FROM posts p ${latest} WHERE ${where.join(" AND ")} ORDER BY p.seq LIMIT ${arg(opts.limit)}`,
          params,
        )
      ).rows;
    } else {
      // distance of the newest predictions' least certain hashtag from 0.5; posts without predictions come last
      const after = token
        ? `WHERE (q.distance, q.seq) > (${arg(token.distance ?? -1)}::float8, ${arg(token.seq)})`
        : "";
      keys = (
        await this.db.pool.query(
          `SELECT q.id, q.seq, q.distance FROM (
             SELECT p.id, p.seq,
                    coalesce((SELECT min(abs(pr.score::float8 - 0.5)) FROM predictions pr
                              WHERE pr.post_id = p.id AND pr.model_version_id = latest.model_version_id), 1) AS distance
             FROM posts p ${latest} WHERE ${where.join(" AND ")}) q
           ${after} ORDER BY q.distance, q.seq LIMIT ${arg(opts.limit)}`,
          params,
        )
      ).rows;
    }
    const byId = new Map<string, PostResult>();
    if (keys.length) {
      const r = await this.db.pool.query<PostResult>(`${SELECT_RESULTS} WHERE p.id = ANY($1::uuid[])`, [
        keys.map((k) => k.id),
      ]);
      for (const row of r.rows) byId.set(row.id, row);
    }
    const posts = keys.flatMap((k) => byId.get(k.id) ?? []);
    const last = keys.length === opts.limit ? keys.at(-1) : undefined;
    return {
      posts,
      nextCursor: last && order === "seq" ? last.seq : null,
      next: last ? (order === "seq" ? String(last.seq) : `${last.distance}:${last.seq}`) : null,
    };
  }

  /** Every post of a batch, page by page (for NDJSON/CSV streaming without holding the batch in memory). */
  async *all(batchId: string, pageSize = 500): AsyncGenerator<PostResult> {
    let cursor: number | null = -1;
    while (cursor !== null) {
      const page: ResultsPage = await this.page(batchId, {
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

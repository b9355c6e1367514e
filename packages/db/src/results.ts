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
         coalesce((SELECT json_agg(json_build_object('hashtag', r.hashtag, 'score', r.score, 'rank', r.rank,
                                             'inCaption', r.hashtag = ANY(p.hashtags)) ORDER BY r.rank)
                   FROM predictions pr, unnest(pr.hashtags, pr.scores) WITH ORDINALITY r(hashtag, score, rank)
                   WHERE pr.post_id = p.id AND pr.model_version_id = latest.model_version_id), '[]') AS hashtags
  FROM posts p
  LEFT JOIN LATERAL (SELECT model_version_id FROM predictions WHERE post_id = p.id ORDER BY created_at DESC LIMIT 1) latest ON true`;

/** Posts a filtered page reads in index order before it looks its filters up in their indexes. */
const PROBE_ROWS = 4000;

interface PageKey {
  id: string;
  seq: number;
  /** The post's uncertainty: its distance from 0.5 in the uncertainty order's token. */
  distance: number;
}

export class Results {
  constructor(private readonly db: Db) {}

  /**
   * One page of a batch's posts: in seq order after `cursor` (a seq), or in either order after `after` (a page's
   * `next`), filtered by state, flag, hashtag and best score. Two steps, so that a page costs the same at any depth
   * of a large batch: the page's ids over indexes, then the results of those ids alone.
   */
  async page(batchId: string, opts: PostPageQuery): Promise<ResultsPage> {
    const order = opts.order ?? "seq";
    const keys = await this.pageKeys(batchId, opts, order);
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

  /**
   * A page's ids by keyset, from the columns savePredictions stores on each post (no per-post read of predictions).
   * A filtered page first reads the next PROBE_ROWS posts in index order, which holds a page of any filter that is
   * not rare there; otherwise it finds the filter's matches through their own indexes (GIN on the batch's flags
   * and hashtags, the best score's btree, labels by hashtag), a cost that grows with the matches, not the batch.
   */
  private async pageKeys(
    batchId: string,
    opts: PostPageQuery,
    order: "seq" | "uncertainty",
  ): Promise<PageKey[]> {
    const token = parseToken(opts.after);
    const params: unknown[] = [batchId];
    const arg = (v: unknown) => `$${params.push(v)}`;
    // what the index walks: the batch after the token, in seq order one state of it over (batch_id, state, seq)
    const walk = ["p.batch_id = $1"];
    const filters: string[] = [];
    if (opts.state) (order === "seq" ? walk : filters).push(`p.state = ${arg(opts.state)}::"PostState"`);
    // `@>` rather than `= ANY`: only containment can use the GIN index
    if (opts.flag) filters.push(`p.flags @> ARRAY[${arg(opts.flag)}::text]`);
    // null without predictions: such posts are left out
    if (opts.scoreBelow !== undefined) filters.push(`p.top_score < ${arg(opts.scoreBelow)}`);
    let predicted: string | undefined;
    let labeled: string | undefined;
    if (opts.hashtag) {
      const h = arg(opts.hashtag.replace(/^#/, "").toLowerCase());
      predicted = `(p.predicted_hashtags @> ARRAY[${h}::text] OR p.hashtags @> ARRAY[${h}::text])`;
      labeled = `p.id IN (SELECT l.post_id FROM labels l WHERE l.hashtag = ${h} AND l.positive)`;
    }
    if (order === "seq") walk.push(`p.seq > ${arg(token?.seq ?? opts.cursor ?? -1)}`);
    else if (token)
      walk.push(`(p.uncertainty, p.seq) > (${arg(token.distance ?? -1)}::float8, ${arg(token.seq)})`);
    const indexOrder = order === "seq" ? "p.seq" : "p.uncertainty, p.seq";
    const limit = arg(opts.limit);
    const columns = "p.id, p.seq, p.uncertainty AS distance";
    const run = async (sql: string) => (await this.db.pool.query<PageKey>(sql, params)).rows;
    const all = [...filters, ...(predicted ? [`(${predicted} OR ${labeled})`] : [])];
    if (!all.length)
      return run(
        `SELECT ${columns} FROM posts p WHERE ${walk.join(" AND ")} ORDER BY ${indexOrder} LIMIT ${limit}`,
      );
    const near = await run(
      `SELECT ${columns} FROM (SELECT * FROM posts p WHERE ${walk.join(" AND ")}
                               ORDER BY ${indexOrder} LIMIT ${PROBE_ROWS}) p
       WHERE ${all.join(" AND ")} ORDER BY ${indexOrder} LIMIT ${limit}`,
    );
    if (near.length === opts.limit) return near;
    const where = (...more: string[]) => [...walk, ...filters, ...more].join(" AND ");
    // an OR of the predicted and labeled sides in one WHERE could use neither side's index; the labeled side leaves
    // out what the predicted side has, so the two need no duplicate removal (a UNION hashed every match)
    const matching = predicted
      ? `SELECT ${columns} FROM posts p WHERE ${where(predicted)}
         UNION ALL SELECT ${columns} FROM posts p WHERE ${where(labeled!, `${predicted} IS NOT TRUE`)}`
      : `SELECT ${columns} FROM posts p WHERE ${where()}`;
    // OFFSET 0 keeps the matches a subquery of their own, planned for all its rows through the filters' indexes
    // rather than walked in page order, and read by the top-N sort as they come (a MATERIALIZED CTE wrote them out
    // first: with the UNION, 70 ms rather than 20 for 50,000 matches)
    return run(
      `SELECT * FROM (${matching} OFFSET 0) m
       ORDER BY ${order === "seq" ? "seq" : "distance, seq"} LIMIT ${limit}`,
    );
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

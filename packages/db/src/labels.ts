import type { Db } from "./client.js";

/** Who made a correction; stored with each label row it writes. */
export interface LabelOptions {
  /** The reviewer's name as the client gave it; null when none was given. */
  reviewer?: string | null;
}

/** One human correction of a post's hashtags, with the post's identity in its export. */
export interface LabelRow {
  postId: string;
  externalId: string | null;
  seq: number;
  hashtag: string;
  /** True: the reviewer added the hashtag; false: removed it. */
  positive: boolean;
  reviewer: string | null;
  createdAt: Date;
}

/** Human corrections: a positive label adds a hashtag to a post, a negative one removes it for training. */
export class Labels {
  constructor(private readonly db: Db) {}

  /** Upserts one row per hashtag: the latest correction of a hashtag wins, with its reviewer. */
  async apply(
    postId: string,
    add: string[],
    remove: string[],
    { reviewer = null }: LabelOptions = {},
  ): Promise<void> {
    const rows = [...add.map((h) => ({ h, p: true })), ...remove.map((h) => ({ h, p: false }))];
    if (!rows.length) return;
    await this.db.pool.query(
      `INSERT INTO labels (post_id, hashtag, positive, source, reviewer)
       SELECT $1::uuid, e->>'h', (e->>'p')::boolean, 'human', $3 FROM jsonb_array_elements($2::jsonb) e
       ON CONFLICT (post_id, hashtag, source)
       DO UPDATE SET positive = EXCLUDED.positive, reviewer = EXCLUDED.reviewer, created_at = now()`,
      [postId, JSON.stringify(rows), reviewer],
    );
  }

  /** A batch's human corrections in post order, page by page: what the labels export writes. */
  async *forBatch(batchId: string, pageSize = 2000): AsyncGenerator<LabelRow> {
    let after = { seq: -1, hashtag: "" };
    for (;;) {
      const r = await this.db.pool.query<LabelRow>(
        `SELECT p.id AS "postId", p.external_id AS "externalId", p.seq, l.hashtag, l.positive, l.reviewer,
                l.created_at AS "createdAt"
         FROM posts p JOIN labels l ON l.post_id = p.id AND l.source = 'human'
         WHERE p.batch_id = $1 AND (p.seq, l.hashtag) > ($2, $3)
         ORDER BY p.seq, l.hashtag LIMIT $4`,
        [batchId, after.seq, after.hashtag, pageSize],
      );
      yield* r.rows;
      const last = r.rows.at(-1);
      if (!last || r.rows.length < pageSize) return;
      after = last;
    }
  }
}

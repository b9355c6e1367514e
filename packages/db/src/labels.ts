import type { Db } from "./client.js";

/** Who made a correction; stored with each label row it writes. */
export interface LabelOptions {
  /** The reviewer's name as the client gave it; null when none was given. */
  reviewer?: string | null;
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
}

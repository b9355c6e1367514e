import type { Db } from "./client.js";

/** Human corrections: a positive label adds a hashtag to a post, a negative one removes it for training. */
export class Labels {
  constructor(private readonly db: Db) {}

  async apply(postId: string, add: string[], remove: string[]): Promise<void> {
    const rows = [...add.map((h) => ({ h, p: true })), ...remove.map((h) => ({ h, p: false }))];
    if (!rows.length) return;
    await this.db.pool.query(
      `INSERT INTO labels (post_id, hashtag, positive, source)
       SELECT $1::uuid, e->>'h', (e->>'p')::boolean, 'human' FROM jsonb_array_elements($2::jsonb) e
       ON CONFLICT (post_id, hashtag, source) DO UPDATE SET positive = EXCLUDED.positive, created_at = now()`,
      [postId, JSON.stringify(rows)],
    );
  }
}

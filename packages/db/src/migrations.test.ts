// Migrations that move data: a database migrated up to the one before, with rows in the old layout, keeps what
// they said once migrated.
import { randomUUID } from "node:crypto";
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { migrate } from "./migrator.js";
import { scratchDatabase } from "./scratch-database.js";

const migrations = fileURLToPath(new URL("../../../prisma/migrations", import.meta.url));
const url = parseEnv(serviceEnvSchema, process.env).DATABASE_URL;

/** A fresh database migrated up to (not including) `migration`; dropped after `fn`. */
async function before(migration: string, fn: (c: pg.Client, dbUrl: string) => Promise<void>): Promise<void> {
  const earlier = await mkdtemp(join(tmpdir(), "lxtag-migrations-"));
  let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let c: pg.Client | undefined;
  try {
    const names = (await readdir(migrations, { withFileTypes: true })).filter((d) => d.isDirectory());
    expect(names.map((d) => d.name)).toContain(migration);
    for (const d of names.filter((d) => d.name < migration))
      await cp(join(migrations, d.name), join(earlier, d.name), { recursive: true });
    scratch = await scratchDatabase(url, earlier);
    c = new pg.Client({ connectionString: scratch.url });
    await c.connect();
    await fn(c, scratch.url);
  } finally {
    await c?.end().catch(() => {});
    await scratch?.drop();
    await rm(earlier, { recursive: true, force: true });
  }
}

describe("prisma/migrations on existing rows", () => {
  it("20261206000000_predictions_per_post: a row per rank becomes one ranking per post and model", async () => {
    await before("20261206000000_predictions_per_post", async (c, dbUrl) => {
      const [key, batch, a, b] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await c.query("INSERT INTO api_keys (id, name, key_hash) VALUES ($1, 'k', 'h')", [key]);
      await c.query("INSERT INTO batches (id, api_key_id, source) VALUES ($1, $2, '{}')", [batch, key]);
      await c.query(
        `INSERT INTO model_versions (id, architecture, bundle_prefix, detector_id, hashtags, manifest)
         VALUES ('m1', 'a', 'b', 'd', 5, '{}'), ('m2', 'a', 'b', 'd', 5, '{}')`,
      );
      await c.query(
        `INSERT INTO posts (id, batch_id, seq, dedup_key, caption, model_text)
         VALUES ($1, $3, 1, 'a', 'c', 'c'), ($2, $3, 2, 'b', 'c', 'c')`,
        [a, b, batch],
      );
      // ranks written out of order, and a relabel's second model on post a
      await c.query(
        `INSERT INTO predictions (post_id, model_version_id, rank, hashtag, score, created_at) VALUES
           ($1, 'm1', 2, 'beach', 0.5, '2026-01-01'), ($1, 'm1', 1, 'sunset', 0.875, '2026-01-01'),
           ($1, 'm2', 1, 'dog', 0.75, '2026-01-02'), ($2, 'm1', 1, 'x', 0.25, '2026-01-03')`,
        [a, b],
      );
      expect(await migrate(dbUrl, migrations)).toContain("20261206000000_predictions_per_post");
      const rows = await c.query(
        `SELECT post_id, model_version_id AS model, hashtags, scores,
                to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
         FROM predictions ORDER BY (SELECT seq FROM posts WHERE id = post_id), model_version_id`,
      );
      expect(rows.rows).toEqual([
        { post_id: a, model: "m1", hashtags: ["sunset", "beach"], scores: [0.875, 0.5], day: "2026-01-01" },
        { post_id: a, model: "m2", hashtags: ["dog"], scores: [0.75], day: "2026-01-02" },
        { post_id: b, model: "m1", hashtags: ["x"], scores: [0.25], day: "2026-01-03" },
      ]);
      // a ranking names as many scores as hashtags, none of them null, and ranks something
      for (const [hashtags, scores] of [
        ["{a,b}", "{0.5}"],
        ["{a}", "{NULL}"],
        ["{}", "{}"],
      ])
        await expect(
          c.query(
            "INSERT INTO predictions (post_id, model_version_id, hashtags, scores) VALUES ($1, 'm2', $2, $3)",
            [b, hashtags, scores],
          ),
        ).rejects.toThrow(/predictions_ranked_check/);
    });
  }, 60_000);
});

// A predict worker killed with SIGKILL in the middle of a batch and started again: every post ends done exactly
// once. Its stack is separate from e2e.test.ts: one-post micro-batches and short job locks make the crash land
// mid-run and bring the job the dead worker held back within seconds.
import { join } from "node:path";
import { QUEUES } from "@lxtag/contracts";
import { applicationName } from "@lxtag/db";
import { createQueue } from "@lxtag/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LxtagClient } from "./client.js";
import { IsolatedPipeline } from "./isolated-pipeline.js";
import { syntheticPosts, writeExportZips } from "./synthetic-export.js";

const t = new IsolatedPipeline({
  LXTAG_MAX_BATCH_SIZE: "1",
  LXTAG_MAX_WAIT_MS: "0",
  LXTAG_JOB_LOCK_MS: "2000",
});
const api = t.client;
const POSTS = 150;

beforeAll(() => t.start(), 180_000);
afterAll(() => t.stop());

describe("predict worker crash", () => {
  it("SIGKILL mid-batch, then a restart: every post done, its predictions written once", async () => {
    const parts = [1, 2].map((i) => join(t.work, `crash-${i}.zip`));
    await writeExportZips(await syntheticPosts(POSTS, 11), parts);
    const batchId = await LxtagClient.batchId(await api.uploadZips(parts));

    let summary = await api.batch(batchId);
    while ((summary.counts.done ?? 0) < 5) {
      await new Promise((r) => setTimeout(r, 20));
      summary = await api.batch(batchId);
    }
    // a COMMIT the worker sent just before it died may still be running in Postgres: once its last connection is
    // gone, its writes are all in (or rolled back), and the count can no longer move
    const connections = async () => {
      const name = applicationName("predict-worker", t.stack.pid("predict-worker"));
      const { rows } = await t.db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
        [name],
      );
      return rows[0]!.n;
    };
    expect(await connections()).toBeGreaterThan(0);
    await t.stack.kill("predict-worker", "SIGKILL");
    await expect.poll(connections, { timeout: 10_000, interval: 50 }).toBe(0);
    const doneAtKill = (await api.batch(batchId)).counts.done ?? 0;
    expect(doneAtKill).toBeLessThan(POSTS); // the crash really was mid-batch
    await new Promise((r) => setTimeout(r, 1000));
    expect((await api.batch(batchId)).counts.done ?? 0).toBe(doneAtKill); // nobody predicts while it is down

    t.stack.start("predict-worker");
    const final = await api.waitForBatch(batchId, { timeoutMs: 120_000 });
    expect(final.state).toBe("done");
    expect(final.counts).toMatchObject({ done: POSTS, failed: 0 });
    // jobs whose posts the killed worker wrote just before it died are still held by its lapsed locks: taken again
    // once stalled (LXTAG_JOB_LOCK_MS), they find their predictions written and change nothing
    const predict = createQueue(QUEUES.predict, t.env.LXTAG_REDIS_URL, t.prefix);
    await expect
      .poll(() => predict.getJobCounts("failed", "active", "waiting"), { timeout: 30_000, interval: 500 })
      .toMatchObject({ failed: 0, active: 0, waiting: 0 });
    await predict.close();
    const perPost = await t.db.pool.query<{ n: string }>(
      `SELECT cardinality(pr.hashtags) AS n FROM predictions pr JOIN posts p ON p.id = pr.post_id WHERE p.batch_id = $1`,
      [batchId],
    );
    expect(perPost.rows).toHaveLength(POSTS);
    expect(new Set(perPost.rows.map((r) => Number(r.n)))).toEqual(new Set([10]));
  }, 240_000);
});

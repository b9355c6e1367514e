// The fault suite: lxtag on a Redis, a Postgres cluster and an S3 server of its own (own-services.ts), so that it
// can take them away mid-batch without disturbing anything else. After each fault every post is done exactly once
// (one prediction set, nothing failed, nothing degraded to its caption), no lxtag process exited, and every
// prediction equals the clean run's with the same model. Backoff is capped at 4 s here (30 s by default) so the
// suite does not wait out long backoffs after each outage; the retry budget is the default 5 minutes.
import { join } from "node:path";
import { QUEUES } from "@lxtag/contracts";
import { DEGRADED } from "@lxtag/db";
import { createQueue } from "@lxtag/runtime";
import { scratchDatabase } from "@lxtag/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LxtagClient } from "./client.js";
import { IsolatedPipeline } from "./isolated-pipeline.js";
import { OwnServices } from "./own-services.js";
import { syntheticPosts, writeExportZips } from "./synthetic-export.js";

// seven ranges of posts (jobs carry 32 each): when a fault lands, some ranges' jobs still wait in the queues
const POSTS = 200;
/** Posts done before a fault starts: it lands mid-batch. */
const FAULT_AT = 8;
const SETTINGS = {
  // one post at a time, so a batch lasts long enough for a fault to land in its middle
  LXTAG_FEATURE_CONCURRENCY: "1",
  LXTAG_MAX_BATCH_SIZE: "2",
  LXTAG_MAX_WAIT_MS: "0",
  // a job whose lock died with Redis is taken again within seconds
  LXTAG_JOB_LOCK_MS: "5000",
  LXTAG_RETRY_MAX_DELAY_MS: "4000",
  LXTAG_RECONCILE_INTERVAL_MS: "5000",
  // every prediction reads its RoI object from S3, so an S3 outage reaches jobs in flight (feature workers skip
  // the lookup of an object they saw lately, and the faulted runs show the clean run's images again)
  LXTAG_FEATURE_CACHE_MB: "0",
};

type Ranked = { hashtag: string; score: number }[];

let own: OwnServices;
let t: IsolatedPipeline;
let parts: string[];
let clean: Map<number, Ranked>;
const timings: Record<string, number> = {};
/** Per fault: log lines of jobs retried and of reconciler passes that re-queued work. */
const seen: Record<string, { retries: number; reconciled: number }> = {};

beforeAll(async () => {
  own = await OwnServices.start();
  const scratch = await scratchDatabase(own.postgres.url);
  t = new IsolatedPipeline({ ...own.env(scratch.url), ...SETTINGS });
  await t.start();
  await t.stack.untilServing();
  parts = [1, 2].map((i) => join(t.work, `faults-${i}.zip`));
  await writeExportZips(await syntheticPosts(POSTS, 23), parts);
}, 300_000);

afterAll(async () => {
  console.log(`fault suite: seconds per run ${JSON.stringify(timings)}; log lines ${JSON.stringify(seen)}`);
  await t?.stop();
  await own?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Posts of the batch per state, read from Postgres; undefined while it cannot be read (during an outage). */
async function counts(batchId: string): Promise<Record<string, number> | undefined> {
  try {
    const r = await t.db.pool.query<{ state: string; n: number }>(
      "SELECT state, count(*)::int AS n FROM posts WHERE batch_id = $1 GROUP BY state",
      [batchId],
    );
    return Object.fromEntries(r.rows.map((row) => [row.state, row.n]));
  } catch {
    return undefined;
  }
}

async function batchState(batchId: string): Promise<string | undefined> {
  try {
    return (await t.repos.batches.find(batchId))?.state;
  } catch {
    return undefined;
  }
}

async function until(what: string, reached: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await reached())) {
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms\n${t.stack.logs.slice(-40).join("\n")}`);
    await sleep(50);
  }
}

/** Uploads the export and waits until FAULT_AT of its posts are done. */
async function batchUnderWay(): Promise<string> {
  const batchId = await LxtagClient.batchId(await t.client.uploadZips(parts));
  await until(
    "posts done before the fault",
    async () => ((await counts(batchId))?.done ?? 0) >= FAULT_AT,
    60_000,
  );
  return batchId;
}

/** Waits for the batch to finish after a fault; returns the posts done when the fault began, for the record. */
async function finished(batchId: string, timeoutMs = 150_000): Promise<void> {
  await until("batch done", async () => (await batchState(batchId)) === "done", timeoutMs);
}

/** The batch's ranked hashtags per post (by its position in the export), and how many model versions each has. */
async function predictions(batchId: string): Promise<{ ranked: Map<number, Ranked>; sets: number[] }> {
  const r = await t.db.pool.query<{ seq: number; model: string; hashtag: string; score: number }>(
    `SELECT p.seq, pr.model_version_id AS model, r.hashtag, r.score
     FROM predictions pr JOIN posts p ON p.id = pr.post_id, unnest(pr.hashtags, pr.scores) WITH ORDINALITY r(hashtag, score, rank)
     WHERE p.batch_id = $1 ORDER BY p.seq, pr.model_version_id, r.rank`,
    [batchId],
  );
  const ranked = new Map<number, Ranked>();
  const models = new Map<number, Set<string>>();
  for (const row of r.rows) {
    ranked.set(row.seq, [...(ranked.get(row.seq) ?? []), { hashtag: row.hashtag, score: row.score }]);
    models.set(row.seq, (models.get(row.seq) ?? new Set()).add(row.model));
  }
  return { ranked, sets: [...models.values()].map((m) => m.size) };
}

/** Everything a fault must leave as a clean run does. */
async function expectAsClean(batchId: string, doneAtFault: number): Promise<void> {
  expect(doneAtFault).toBeLessThan(POSTS); // the fault did land mid-batch
  expect(t.stack.exited()).toEqual([]); // no lxtag process exited
  const summary = await t.repos.batches.summary((await t.repos.batches.find(batchId))!);
  expect(summary.state).toBe("done");
  expect(summary.counts).toMatchObject({ done: POSTS, failed: 0, pending: 0, featurizing: 0, predicting: 0 });
  expect(summary.warnings.filter((w) => w.startsWith(DEGRADED))).toEqual([]);
  const flagged = await t.db.pool.query(
    `SELECT id, flags FROM posts WHERE batch_id = $1
       AND EXISTS (SELECT 1 FROM unnest(flags) f WHERE f = 'roi-missing' OR f LIKE 'image-error:%')`,
    [batchId],
  );
  expect(flagged.rows).toEqual([]); // no post silently lost its image
  const { ranked, sets } = await predictions(batchId);
  expect(sets).toEqual(Array(POSTS).fill(1)); // one prediction set per post
  expect([...ranked.keys()].sort((a, b) => a - b)).toEqual([...clean.keys()].sort((a, b) => a - b));
  for (const [seq, mine] of ranked) {
    const theirs = clean.get(seq)!;
    expect(
      mine.map((h) => h.hashtag),
      `post ${seq}`,
    ).toEqual(theirs.map((h) => h.hashtag));
    mine.forEach((h, i) => {
      expect(Math.abs(h.score - theirs[i]!.score), `post ${seq} rank ${i + 1}`).toBeLessThan(1e-5);
    });
  }
  for (const name of [QUEUES.features, QUEUES.predict]) {
    const queue = createQueue(name, t.env.LXTAG_REDIS_URL, t.prefix);
    const counts = () => queue.getJobCounts("failed", "active", "waiting", "delayed");
    // a job whose completion Redis lost (killed before its append-only file had it) stays active until the stalled
    // check, every LXTAG_JOB_LOCK_MS, takes it again: its post is done, and its second run changes nothing
    const deadline = Date.now() + 3 * Number(SETTINGS.LXTAG_JOB_LOCK_MS);
    for (
      let c = await counts();
      (c.active ?? 0) + (c.waiting ?? 0) + (c.delayed ?? 0) > 0 && Date.now() < deadline;
      c = await counts()
    )
      await sleep(200);
    expect(await counts(), name).toMatchObject({
      failed: 0,
      active: 0,
      waiting: 0,
      delayed: 0,
    });
    await queue.close();
  }
}

/** Runs `fault` on a batch under way and checks the batch ends as a clean run's did; records the time it took. */
async function survives(name: string, fault: () => Promise<void>, { retried = true } = {}): Promise<void> {
  const started = Date.now();
  const batchId = await batchUnderWay();
  const doneAtFault = (await counts(batchId))?.done ?? 0;
  t.stack.logs.splice(0); // from here on: what the processes said about this fault
  await fault();
  await finished(batchId);
  timings[name] = Math.round((Date.now() - started) / 1000);
  const said = (text: string) => t.stack.logs.filter((l) => l.includes(text)).length;
  seen[name] = { retries: said("job failed; retrying"), reconciled: said("reconciled: unfinished work") };
  // the outage hit jobs in flight, and they were retried (a Redis outage may only stall them: no retry is logged)
  if (retried) expect(seen[name]!.retries, `${name}: jobs retried`).toBeGreaterThan(0);
  await expectAsClean(batchId, doneAtFault);
}

describe("outages mid-batch", () => {
  it("a clean run of the export (what every faulted run must equal)", async () => {
    const started = Date.now();
    const batchId = await LxtagClient.batchId(await t.client.uploadZips(parts));
    await finished(batchId, 120_000);
    timings.clean = Math.round((Date.now() - started) / 1000);
    const { ranked, sets } = await predictions(batchId);
    expect(sets).toEqual(Array(POSTS).fill(1));
    clean = ranked;
  }, 150_000);

  it("Redis SIGKILLed and restarted from its append-only file", async () => {
    await survives(
      "redis-kill",
      async () => {
        await own.redis.kill("SIGKILL");
        await sleep(2000);
        await own.redis.restart();
      },
      { retried: false },
    );
  }, 240_000);

  it("Redis restarted empty (its data lost): the reconciler queues every unfinished post again", async () => {
    await survives(
      "redis-lost",
      async () => {
        await own.redis.kill("SIGKILL");
        await own.redis.wipe();
        await own.redis.restart();
      },
      { retried: false },
    );
    expect(seen["redis-lost"]!.reconciled).toBeGreaterThan(0);
  }, 240_000);

  it("Postgres restarted at once", async () => {
    await survives("postgres-restart", () => own.postgres.restartServer());
  }, 240_000);

  it("Postgres stopped for 20 s", async () => {
    await survives("postgres-20s", async () => {
      await own.postgres.stopServer();
      await sleep(20_000);
      await own.postgres.startServer();
    });
  }, 240_000);

  it("S3 stopped for 30 s", async () => {
    await survives("s3-30s", async () => {
      await own.s3.stop();
      await sleep(30_000);
      await own.s3.restart();
    });
  }, 240_000);
});

// The training-run history and the session lock that keeps runs one at a time, on a database of the test's own.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applicationName, createDb, type Db } from "./client.js";
import { scratchDatabase } from "./scratch-database.js";
import { SessionLock } from "./session-lock.js";
import { TRAINING_LOG_TAIL_LINES, TrainingRuns } from "./training-runs.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const serverUrl = parseEnv(serviceEnvSchema, process.env).DATABASE_URL;
const KEY = 4242;

describe("training runs", () => {
  let db: Db;
  let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let runs: TrainingRuns;
  beforeAll(async () => {
    scratch = await scratchDatabase(serverUrl);
    db = createDb(scratch.url, 2);
    runs = new TrainingRuns(db);
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it("records a run from start to finish, its log bounded to the last lines", async () => {
    const run = await runs.create({ epochs: 3 });
    expect(run).toMatchObject({ state: "running", stage: null, params: { epochs: 3 }, finishedAt: null });
    expect(run.startedAt).toBeInstanceOf(Date);
    await runs.stage(run.id, "train", { labels: 0.5 });
    await runs.appendLog(run.id, ["line 0"]);
    await runs.appendLog(
      run.id,
      Array.from({ length: TRAINING_LOG_TAIL_LINES + 49 }, (_, i) => `line ${i + 1}`),
    );
    await runs.update(run.id, { datasetId: "ds-1", metrics: { f1: 0.5 }, filterReport: { steps: [] } });
    const done = await runs.finish(run.id, "done", { timings: { labels: 0.5, train: 2 } });
    expect(done).toMatchObject({
      state: "done",
      stage: "train",
      datasetId: "ds-1",
      metrics: { f1: 0.5 },
      filterReport: { steps: [] },
      timings: { labels: 0.5, train: 2 },
    });
    const log = done.log!.split("\n");
    expect(log).toHaveLength(TRAINING_LOG_TAIL_LINES);
    expect(log[0]).toBe("line 50");
    expect(log.at(-1)).toBe(`line ${TRAINING_LOG_TAIL_LINES + 49}`);
    expect((await runs.lastDone())?.id).toBe(run.id);
  });

  it("starts a queued run once, lists newest first, and fails runs a dead process left running", async () => {
    const queued = await runs.create({}, { state: "queued" });
    expect(queued.startedAt).toBeNull();
    expect(await runs.start(queued.id, { force: true })).toMatchObject({
      state: "running",
      params: { force: true },
    });
    expect(await runs.start(queued.id, {})).toBeNull(); // taken already
    const newest = await runs.create({});
    expect((await runs.list(2)).map((r) => r.id)).toEqual([newest.id, queued.id]);
    expect((await runs.failInterrupted("interrupted")).sort()).toEqual([newest.id, queued.id].sort());
    expect(await runs.find(queued.id)).toMatchObject({ state: "failed", error: "interrupted" });
  });
});

describe("SessionLock", () => {
  it("is held by one session at a time and released by release()", async () => {
    const a = await SessionLock.tryAcquire(serverUrl, KEY, "test");
    expect(a).not.toBeNull();
    // its connection says what it is, so a holder can be found in pg_stat_activity
    const holder = new pg.Client({ connectionString: serverUrl });
    await holder.connect();
    const { rows } = await holder.query(
      "SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.objid = $1 AND l.granted",
      [KEY],
    );
    await holder.end();
    expect(rows).toEqual([{ name: applicationName("test lock") }]);
    expect(await SessionLock.tryAcquire(serverUrl, KEY, "test")).toBeNull();
    await a!.release();
    const b = await SessionLock.tryAcquire(serverUrl, KEY, "test");
    expect(b).not.toBeNull();
    await b!.release();
  });

  it("aborts its signal, naming the lock, when its connection is ended under it", async () => {
    const lock = (await SessionLock.tryAcquire(serverUrl, KEY + 2, "test-lost"))!;
    expect(lock.signal.aborted).toBe(false);
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    // what a Postgres restart or a dropped network does to the lock's connection
    const { rowCount } = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
      [applicationName("test-lost lock")],
    );
    await admin.end();
    expect(rowCount).toBe(1);
    await expect.poll(() => lock.signal.aborted, { timeout: 10_000 }).toBe(true);
    expect((lock.signal.reason as Error).message).toMatch(/^lost the test-lost lock: /);
    expect(lock.lost).toBeInstanceOf(Error);
    await lock.release();
  });

  it("is released when its holder's process is killed", async () => {
    // a holder that never releases: SIGKILL leaves it no chance to
    const script = `import { SessionLock } from ${JSON.stringify(`${root}packages/db/dist/session-lock.js`)};
      const lock = await SessionLock.tryAcquire(${JSON.stringify(serverUrl)}, ${KEY + 1}, "test-holder");
      console.log(lock ? "locked" : "refused");
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script]);
    const first = await new Promise<string>((resolve, reject) => {
      child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim()));
      child.once("exit", (code) => reject(new Error(`holder exited with ${code}`)));
    });
    expect(first).toBe("locked");
    expect(await SessionLock.tryAcquire(serverUrl, KEY + 1, "test")).toBeNull();
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    // Postgres ends the backend when it reads the closed socket: at once, but not synchronously with the kill
    let lock: SessionLock | null = null;
    for (let i = 0; i < 50 && !lock; i++) {
      lock = await SessionLock.tryAcquire(serverUrl, KEY + 1, "test");
      if (!lock) await new Promise((r) => setTimeout(r, 100));
    }
    expect(lock).not.toBeNull();
    await lock!.release();
  }, 30_000);
});

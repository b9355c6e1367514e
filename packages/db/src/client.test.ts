// The pool survives Postgres dropping its idle connections (what a Postgres restart does to every worker), and a
// service's connections say whose they are.
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { applicationName, createDb } from "./client.js";

const url = parseEnv(serviceEnvSchema, process.env).DATABASE_URL;

/** Ends the server side of every connection `pids` names, as a restart would, from another connection. */
async function terminate(pids: number[]): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", [pids]);
  } finally {
    await admin.end();
  }
}

const pid = async (db: ReturnType<typeof createDb>) =>
  (await db.pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;

describe("createDb", () => {
  it("reports an idle connection's death through onIdleError, and the next query reconnects", async () => {
    const errors: Error[] = [];
    const db = createDb(url, { maxConnections: 2, onIdleError: (err) => errors.push(err) });
    try {
      const before = await pid(db);
      await terminate([before]);
      await expect.poll(() => errors.length, { timeout: 5000 }).toBe(1);
      expect(errors[0]!.message).toMatch(/terminat/i);
      const after = await pid(db);
      expect(after).not.toBe(before);
    } finally {
      await db.close();
    }
  });

  it("without a listener, an idle connection's death does not crash the process", async () => {
    const db = createDb(url, 2);
    try {
      const before = await pid(db);
      await terminate([before]);
      await expect.poll(() => db.pool.totalCount, { timeout: 5000 }).toBe(0); // the pool dropped it
      expect(await pid(db)).not.toBe(before);
    } finally {
      await db.close();
    }
  });

  it("names a service's connections in pg_stat_activity (service, process id, host)", async () => {
    const db = createDb(url, { service: "predict-worker", maxConnections: 1 });
    try {
      const { rows } = await db.pool.query<{ name: string }>(
        "SELECT application_name AS name FROM pg_stat_activity WHERE pid = pg_backend_pid()",
      );
      expect(rows[0]!.name).toBe(applicationName("predict-worker"));
      expect(rows[0]!.name).toMatch(new RegExp(`^lxtag predict-worker pid ${process.pid} on `));
    } finally {
      await db.close();
    }
  });
});

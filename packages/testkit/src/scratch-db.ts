import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createDb, migrate } from "@lxtag/db";

// from packages/testkit/dist: the repository's SQL migrations
const MIGRATIONS = fileURLToPath(new URL("../../../prisma/migrations", import.meta.url));

/**
 * A fresh, migrated database on the running Postgres: a model registry of the test's own (activating a version
 * in the shared one would change what every other process serves). `drop()` removes it.
 */
export async function scratchDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `lxtag_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = async (sql: string) => {
    const db = createDb(serverUrl, 1);
    try {
      await db.pool.query(sql);
    } finally {
      await db.close();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString(), MIGRATIONS);
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

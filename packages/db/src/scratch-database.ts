import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createDb } from "./client.js";
import { migrate } from "./migrator.js";

/** The repository's SQL migrations (from packages/db/src and packages/db/dist alike). */
const REPOSITORY_MIGRATIONS = fileURLToPath(new URL("../../../prisma/migrations", import.meta.url));

/**
 * A fresh database on the server of `serverUrl`, migrated from `migrationsDir` (the repository's migrations by
 * default), named uniquely: for tests that must not touch the shared one (its model registry decides what every
 * process serves). `drop()` removes it.
 */
export async function scratchDatabase(
  serverUrl: string,
  migrationsDir = REPOSITORY_MIGRATIONS,
): Promise<{ url: string; drop(): Promise<void> }> {
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
  await migrate(url.toString(), migrationsDir);
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

import { fileURLToPath } from "node:url";
import { scratchDatabase as scratchDatabaseFrom } from "@lxtag/db";

// from packages/testkit/dist: the repository's SQL migrations
const MIGRATIONS = fileURLToPath(new URL("../../../prisma/migrations", import.meta.url));

/** A fresh database with the repository's migrations, for a test of its own; `drop()` removes it. */
export const scratchDatabase = (serverUrl: string) => scratchDatabaseFrom(serverUrl, MIGRATIONS);

// Applies migrations, creates the bucket and registers the configured API keys (plain and admin): run by
// scripts/setup.sh.
import { fileURLToPath } from "node:url";
import { migrate } from "@lxtag/db";
import { configuredKeys } from "../config.js";
import { connect } from "../connect.js";

const deps = connect();
const migrations = fileURLToPath(new URL("../../../../prisma/migrations", import.meta.url));
const applied = await migrate(deps.config.DATABASE_URL, migrations);
console.log(applied.length ? `applied migrations: ${applied.join(", ")}` : "migrations up to date");
await deps.store.ensureBucket();
for (const { name, key, admin } of configuredKeys(deps.config))
  await deps.repos.apiKeys.ensure(name, key, { admin, configured: true });
await deps.close();

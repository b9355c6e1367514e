// Creates, lists and revokes API keys in Postgres: `npm run keys -- create <name> [--admin] | list | revoke <id>`.
import { createDb, repositories } from "@lxtag/db";
import { loadConfig } from "../config.js";
import { ApiKeyNotFoundError, KEYS_USAGE, KeysUsageError, keysCommand } from "./keys-command.js";

const config = loadConfig();
const db = createDb(config.DATABASE_URL, { service: "keys-command" });
try {
  process.stdout.write(await keysCommand(process.argv.slice(2), repositories(db).apiKeys));
} catch (err) {
  if (!(err instanceof KeysUsageError || err instanceof ApiKeyNotFoundError)) throw err;
  process.stderr.write(`${err.message}\n${err instanceof KeysUsageError ? `${KEYS_USAGE}\n` : ""}`);
  process.exitCode = 2;
} finally {
  await db.close();
}

import type { ApiKeyEntry, ApiKeys } from "@lxtag/db";
import { z } from "zod";

export const KEYS_USAGE = `usage: npm run keys -- <command>
  create <name> [--admin]   a new key: printed once, stored only as its hash
  list                      every key: id, name, role, origin (config or cli), created, revoked
  revoke <id>               refuse the key from now on (APIs notice within LXTAG_API_KEY_CACHE_MS)`;

/** Arguments the command does not understand: the message and the usage go to stderr, exit status 2. */
export class KeysUsageError extends Error {
  override name = "KeysUsageError";
}

/** `revoke` of an id that names no key. */
export class ApiKeyNotFoundError extends Error {
  override name = "ApiKeyNotFoundError";
  constructor(readonly keyId: string) {
    super(`no API key with id ${keyId}`);
  }
}

const line = (k: ApiKeyEntry) =>
  [
    k.id,
    k.name,
    k.admin ? "admin" : "plain",
    k.configured ? "config" : "cli",
    k.createdAt.toISOString(),
    k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : "active",
  ].join("\t");

/**
 * `npm run keys -- create|list|revoke` over the key repository; returns what to print on stdout. The raw key of
 * `create` is in that output and nowhere else (Postgres keeps its sha256).
 */
export async function keysCommand(
  args: readonly string[],
  keys: Pick<ApiKeys, "create" | "list" | "revoke">,
) {
  const [command, ...rest] = args;
  const flags = rest.filter((a) => a.startsWith("--"));
  const operands = rest.filter((a) => !a.startsWith("--"));
  const unknown = flags.filter((f) => !(command === "create" && f === "--admin"));
  if (unknown.length) throw new KeysUsageError(`unknown option ${unknown[0]}`);
  switch (command) {
    case "create": {
      const name = operands[0]?.trim();
      if (!name || operands.length > 1) throw new KeysUsageError("create takes one name");
      const admin = flags.includes("--admin");
      const { id, key } = await keys.create(name, { admin });
      return `${key}\n# id ${id}, ${admin ? "admin" : "plain"} key "${name}": the key above is shown only now\n`;
    }
    case "list": {
      if (operands.length) throw new KeysUsageError("list takes no arguments");
      const all = await keys.list();
      return `${["id", "name", "role", "origin", "created", "state"].join("\t")}\n${all.map((k) => `${line(k)}\n`).join("")}`;
    }
    case "revoke": {
      const id = z.uuid().safeParse(operands[0]);
      if (!id.success || operands.length > 1) throw new KeysUsageError("revoke takes one key id (see list)");
      const key = await keys.revoke(id.data);
      if (!key) throw new ApiKeyNotFoundError(id.data);
      return `${line(key)}\n`;
    }
    default:
      throw new KeysUsageError(command ? `unknown command ${command}` : "no command");
  }
}

// The keys command over the real key table, and what the API makes of its keys: a revoked key gets 401 once the
// API's key cache (LXTAG_API_KEY_CACHE_MS, shortened here) has let its entry go.
import { afterAll, describe, expect, it } from "vitest";
import { useTestApi } from "../testing/harness.js";
import { ApiKeyNotFoundError, KeysUsageError, keysCommand } from "./keys-command.js";

const CACHE_MS = 300;

describe("npm run keys", () => {
  const api = useTestApi({ env: { LXTAG_API_KEY_CACHE_MS: String(CACHE_MS) } });
  const created: string[] = [];
  afterAll(async () => {
    if (created.length)
      await api.deps.db.pool.query("DELETE FROM api_keys WHERE id = ANY($1::uuid[])", [created]);
  });

  const run = (...args: string[]) => keysCommand(args, api.deps.repos.apiKeys);
  async function create(...args: string[]) {
    const out = await run("create", ...args);
    const [key, note] = out.trimEnd().split("\n");
    const id = /# id ([0-9a-f-]{36}),/.exec(note!)![1]!;
    created.push(id);
    return { out, key: key!, id };
  }
  const models = (key: string) =>
    api.app.inject({ method: "GET", url: "/v1/models", headers: { "x-api-key": key } });

  it("creates a key printed once, stored only as its hash; --admin makes an admin key", async () => {
    const plain = await create("ci-uploader");
    expect(plain.out).toBe(
      `${plain.key}\n# id ${plain.id}, plain key "ci-uploader": the key above is shown only now\n`,
    );
    expect(plain.key).toMatch(/^lxt_[\w-]{32}$/);
    const row = await api.deps.db.pool.query("SELECT * FROM api_keys WHERE id = $1", [plain.id]);
    expect(JSON.stringify(row.rows)).not.toContain(plain.key);
    expect(await api.deps.repos.apiKeys.identify(plain.key)).toEqual({
      id: plain.id,
      admin: false,
      configured: false,
    });
    const admin = await create("ops", "--admin");
    expect(admin.out).toContain(`admin key "ops"`);
    expect(await api.deps.repos.apiKeys.identify(admin.key)).toEqual({
      id: admin.id,
      admin: true,
      configured: false,
    });
  });

  it("lists every key with its role and state, never the key", async () => {
    const { key, id } = await create("listed");
    const out = await run("list");
    const [header, ...lines] = out.trimEnd().split("\n");
    expect(header).toBe("id\tname\trole\torigin\tcreated\tstate");
    const mine = lines.find((l) => l.startsWith(id))!.split("\t");
    expect(mine).toEqual([id, "listed", "plain", "cli", expect.stringMatching(/^\d{4}-.*Z$/), "active"]);
    expect(out).not.toContain(key);
  });

  it("revokes a key: the API answers it 401 within the cache TTL, and revoking again changes nothing", async () => {
    const { key, id } = await create("leaked");
    expect((await models(key)).statusCode).toBe(200); // now cached as valid
    const out = await run("revoke", id);
    expect(out).toMatch(new RegExp(`^${id}\\tleaked\\tplain\\tcli\\t\\S+\\trevoked \\d{4}-\\S+Z\\n$`));
    await new Promise((r) => setTimeout(r, CACHE_MS + 50));
    const refused = await models(key);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error).toBe("unauthorized");
    expect(await run("revoke", id)).toBe(out); // the first revocation's time stays
    // a configured key that was revoked stays revoked when the API registers its configuration again
    await api.deps.repos.apiKeys.ensure("leaked", key, { configured: true });
    expect(await api.deps.repos.apiKeys.identify(key)).toBeNull();
  });

  it("refuses unknown commands, options and ids with a usage error", async () => {
    await expect(run()).rejects.toThrow(new KeysUsageError("no command"));
    await expect(run("delete", "x")).rejects.toThrow(new KeysUsageError("unknown command delete"));
    await expect(run("create")).rejects.toThrow(new KeysUsageError("create takes one name"));
    await expect(run("list", "--admin")).rejects.toThrow(new KeysUsageError("unknown option --admin"));
    await expect(run("revoke", "not-a-uuid")).rejects.toThrow(KeysUsageError);
    const unknown = "00000000-0000-4000-8000-000000000000";
    await expect(run("revoke", unknown)).rejects.toThrow(new ApiKeyNotFoundError(unknown));
  });
});

// Keys registered from configuration are valid only while the API's configuration lists them: an operator revokes
// one by removing it from LXTAG_API_KEYS and restarting, with no `keys revoke` needed.
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { useTestApi } from "../testing/harness.js";

const listedKey = `listed-${randomUUID()}`;

describe("keys from the configuration", () => {
  const api = useTestApi({ env: { LXTAG_API_KEYS: `listed:${listedKey}` } });
  const ids: string[] = [];
  afterAll(async () => {
    await api.deps.db.pool.query("DELETE FROM api_keys WHERE id = ANY($1::uuid[])", [ids]);
  });
  const models = (key: string) =>
    api.app.inject({ method: "GET", url: "/v1/models", headers: { "x-api-key": key } });

  it("accepts a configured key that this API's configuration lists, and refuses one it no longer lists", async () => {
    const droppedKey = `dropped-${randomUUID()}`;
    ids.push(await api.deps.repos.apiKeys.ensure("listed", listedKey, { configured: true }));
    ids.push(await api.deps.repos.apiKeys.ensure("dropped", droppedKey, { configured: true }));
    expect((await models(listedKey)).statusCode).toBe(200);
    const refused = await models(droppedKey);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error).toBe("unauthorized");
    // still registered and not revoked: the refusal is this API's configuration, not the key table
    expect(await api.deps.repos.apiKeys.identify(droppedKey)).toMatchObject({ configured: true });
  });

  it("accepts keys made with `keys create` whatever the configuration lists", async () => {
    const { id, key } = await api.deps.repos.apiKeys.create("cli-made");
    ids.push(id);
    expect((await models(key)).statusCode).toBe(200);
  });
});

// Per-key and per-address rate limits, counted in the real Redis under the test app's own prefix.
import { describe, expect, it } from "vitest";
import { useTestApi } from "../testing/harness.js";

describe("rate limits of /v1", () => {
  const api = useTestApi({
    env: {
      LXTAG_RATE_LIMIT_MAX: "3",
      LXTAG_RATE_LIMIT_ANONYMOUS_MAX: "2",
      LXTAG_RATE_LIMIT_WINDOW_MS: "60000",
    },
  });
  const get = (headers: Record<string, string>, remoteAddress = "203.0.113.7") =>
    api.app.inject({ method: "GET", url: "/v1/models", headers, remoteAddress });

  it("answers a key's requests past its limit 429 rate_limited with Retry-After; other keys go on", async () => {
    const { key } = await api.newKey();
    for (let i = 0; i < 3; i++) expect((await get({ "x-api-key": key })).statusCode).toBe(200);
    const refused = await get({ "x-api-key": key }, "198.51.100.1"); // per key, from any address
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({
      error: "rate_limited",
      message: expect.stringMatching(/^rate limit of 3 requests exceeded; retry in \d+ s$/),
    });
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(60);
    const other = await api.newKey();
    expect((await get({ "x-api-key": other.key })).statusCode).toBe(200);
  });

  it("counts requests without a valid key per address: a flood of wrong keys is refused 429, not only 401", async () => {
    const codes = [];
    for (let i = 0; i < 4; i++)
      codes.push((await get({ "x-api-key": `guess-${i}` }, "192.0.2.50")).statusCode);
    expect(codes).toEqual([401, 401, 429, 429]);
    const noKey = await get({}, "192.0.2.50");
    expect(noKey.statusCode).toBe(429);
    expect(noKey.headers["retry-after"]).toBeDefined();
    // another address still gets its own allowance, and a valid key from the flooding address is counted by key
    expect((await get({ "x-api-key": "guess" }, "192.0.2.51")).statusCode).toBe(401);
    expect((await get({ "x-api-key": api.key }, "192.0.2.50")).statusCode).toBe(200);
  });

  it("documents 429 on every /v1 route", async () => {
    const doc = api.app.swagger() as unknown as {
      paths: Record<string, Record<string, { responses: object }>>;
    };
    for (const [path, methods] of Object.entries(doc.paths).filter(([p]) => p.startsWith("/v1/")))
      for (const op of Object.values(methods)) expect(Object.keys(op.responses), path).toContain("429");
  });
});

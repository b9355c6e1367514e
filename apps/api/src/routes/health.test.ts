import { describe, expect, it } from "vitest";
import { useTestApi } from "../testing/harness.js";

describe("health routes", () => {
  const api = useTestApi();

  it("GET /healthz answers ok", async () => {
    const res = await api.app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });

  it("GET /readyz answers 200 when Postgres, Redis and S3 answer", async () => {
    const res = await api.app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ok: true, checks: { postgres: "ok", redis: "ok", s3: "ok" } });
  });
});

describe("GET /readyz on a fresh install (a registry of its own)", () => {
  const api = useTestApi({ scratchDatabase: true });

  it("stays 200 while no model serves, saying it waits for a first model, then says ok", async () => {
    const res = await api.app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(200); // the API works without a model: uploads are taken, posts wait
    expect(res.json()).toEqual({
      ok: true,
      checks: { postgres: "ok", redis: "ok", s3: "ok" },
      model: "waiting for a first model",
    });

    await api.deps.db.pool.query(
      `INSERT INTO model_versions (id, architecture, bundle_prefix, detector_id, hashtags, manifest)
       VALUES ('readyz-model', 'lxmert4hashtag', 'models/readyz-model/', 'd1', 2, '{}')`,
    );
    expect((await api.app.inject({ method: "GET", url: "/readyz" })).json().model).toBe(
      "waiting for a first model", // a candidate does not serve
    );
    await api.deps.repos.models.activate("readyz-model");
    const ready = await api.app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      ok: true,
      checks: { postgres: "ok", redis: "ok", s3: "ok" },
      model: "ok",
    });
  });
});

describe("GET /readyz with S3 down", () => {
  const api = useTestApi({ env: { LXTAG_S3_ENDPOINT: "http://127.0.0.1:1" } });

  it("answers 503 naming the check, with the reason in the log only", async () => {
    const res = await api.app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      ok: false,
      checks: { postgres: "ok", redis: "ok", s3: "unavailable" },
    });
    expect(res.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|Error/i);
    const logged = api.records.find((r) => r.msg === "readiness check failed");
    expect(logged).toMatchObject({ level: "warn", check: "s3" });
    expect(String(logged?.err)).toMatch(/ECONNREFUSED|connect/);
  });
});

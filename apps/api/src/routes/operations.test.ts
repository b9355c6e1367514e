import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useTestApi } from "../testing/harness.js";

describe("operations routes", () => {
  const api = useTestApi();

  it("GET /queues answers each queue's counts and backlog", async () => {
    // this app's queues live under a prefix of their own: the counts are exactly what this test adds
    await api.deps.queues.features.add("features", { batchId: randomUUID(), postId: randomUUID() });
    await api.deps.queues.features.add(
      "features",
      { batchId: randomUUID(), postId: randomUUID() },
      { priority: 5 },
    );
    const admin = await api.newKey({ admin: true });
    const res = await api.app.inject({
      method: "GET",
      url: "/queues",
      headers: { authorization: `Bearer ${admin.key}` },
    });
    expect(res.statusCode).toBe(200);
    const idle = { waiting: 0, prioritized: 0, delayed: 0, active: 0, failed: 0, backlog: 0 };
    expect(res.json()).toEqual({
      ingest: idle,
      features: { ...idle, waiting: 1, prioritized: 1, backlog: 2 },
      predict: idle,
      training: idle,
    });
  });

  it("GET /queues refuses a request without a key (401) and a plain key (403)", async () => {
    expect((await api.app.inject({ method: "GET", url: "/queues" })).statusCode).toBe(401);
    const plain = await api.newKey();
    const res = await api.app.inject({ method: "GET", url: "/queues", headers: { "x-api-key": plain.key } });
    expect(res.statusCode).toBe(403);
  });

  it("GET /metrics answers an admin key Prometheus text with the queue and post gauges", async () => {
    const admin = await api.newKey({ admin: true });
    const res = await api.app.inject({
      method: "GET",
      url: "/metrics",
      headers: { authorization: `Bearer ${admin.key}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/^lxtag_queue_jobs\{queue="ingest",state="waiting"\} \d+$/m);
    expect(res.body).toContain("# TYPE lxtag_posts gauge");
    expect(res.body).toContain("process_cpu_user_seconds_total");
  });

  it("GET /metrics counts every key's posts: 401 without a key, 403 for a plain key", async () => {
    const none = await api.app.inject({ method: "GET", url: "/metrics" });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ error: "unauthorized" });
    expect(none.body).not.toContain("lxtag_posts");
    const plain = await api.app.inject({ method: "GET", url: "/metrics", headers: { "x-api-key": api.key } });
    expect(plain.statusCode).toBe(403);
    expect(plain.json()).toEqual({ error: "forbidden", message: "this route needs an admin API key" });
    // any spelling of the path reaches the same route, and its hooks
    const encoded = await api.app.inject({ method: "GET", url: "/%6detrics" });
    expect(encoded.statusCode).toBe(401);
  });
});

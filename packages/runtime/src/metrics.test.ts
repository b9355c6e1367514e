import { once } from "node:events";
import type { Server } from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger, parseEnv, type ReadinessCheck, serviceEnvSchema, WorkerMetrics } from "./index.js";

const log = createLogger("metrics-test", "silent");
const open: Server[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

// port 0 means "not served" to `serve`: borrow a free port from the OS first
async function freePort(): Promise<number> {
  const free = createServer().listen(0, "127.0.0.1");
  await once(free, "listening");
  const { port } = free.address() as AddressInfo;
  await new Promise((resolve) => free.close(resolve));
  return port;
}

async function serve(metrics: WorkerMetrics, ready?: ReadinessCheck): Promise<string> {
  const server = metrics.serve(await freePort(), log, "127.0.0.1", ready)!;
  open.push(server);
  await once(server, "listening");
  const { address, port } = server.address() as AddressInfo;
  expect(address).toBe("127.0.0.1");
  return `http://127.0.0.1:${port}`;
}

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
};

describe("WorkerMetrics.serve", () => {
  it("defaults LXTAG_METRICS_HOST to loopback", () => {
    const env = parseEnv(serviceEnvSchema, { LXTAG_METRICS_PORT: "0" });
    expect(env.LXTAG_METRICS_HOST).toBe("127.0.0.1");
    expect(parseEnv(serviceEnvSchema, { LXTAG_METRICS_HOST: "0.0.0.0" }).LXTAG_METRICS_HOST).toBe("0.0.0.0");
  });

  it("serves /metrics on the host it is given, and nothing on port 0", async () => {
    const metrics = new WorkerMetrics("metrics-test");
    expect(metrics.serve(0, log, "127.0.0.1")).toBeUndefined();
    const base = await serve(metrics);
    const res = await get(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.body).toContain('service="metrics-test"');
    expect((await get(`${base}/other`)).status).toBe(404);
  });

  it("answers /healthz while the process runs, and /readyz with the worker's own check and its reason", async () => {
    let reason: string | undefined = "waiting for a serving detector";
    const base = await serve(new WorkerMetrics("health-test"), () => reason);
    expect(await get(`${base}/healthz`)).toEqual({ status: 200, body: '{"ok":true}' });
    expect(await get(`${base}/readyz`)).toEqual({
      status: 503,
      body: '{"ok":false,"reason":"waiting for a serving detector"}',
    });
    reason = undefined;
    expect(await get(`${base}/readyz?verbose`)).toEqual({ status: 200, body: '{"ok":true}' });
    reason = "redis not connected"; // liveness never follows readiness: a restart would not bring Redis back
    expect((await get(`${base}/readyz`)).status).toBe(503);
    expect((await get(`${base}/healthz`)).status).toBe(200);
  });

  it("is always ready without a check", async () => {
    const base = await serve(new WorkerMetrics("health-test"));
    expect(await get(`${base}/readyz`)).toEqual({ status: 200, body: '{"ok":true}' });
  });

  it("answers not ready, without the error's text, when the check throws or hangs", async () => {
    const base = await serve(new WorkerMetrics("health-test"), async () => {
      throw new Error("connect ECONNREFUSED 10.0.0.7:6379");
    });
    expect(await get(`${base}/readyz`)).toEqual({
      status: 503,
      body: '{"ok":false,"reason":"readiness check failed"}',
    });
    const hung = await serve(new WorkerMetrics("health-test"), () => new Promise<undefined>(() => {}));
    expect(await get(`${hung}/readyz`)).toEqual({
      status: 503,
      body: '{"ok":false,"reason":"readiness check timed out"}',
    });
    expect((await get(`${hung}/healthz`)).status).toBe(200);
  });
});

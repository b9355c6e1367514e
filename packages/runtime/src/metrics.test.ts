import { once } from "node:events";
import { type AddressInfo, createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { createLogger, parseEnv, serviceEnvSchema, WorkerMetrics } from "./index.js";

describe("WorkerMetrics.serve", () => {
  const log = createLogger("metrics-test", "silent");

  it("defaults LXTAG_METRICS_HOST to loopback", () => {
    const env = parseEnv(serviceEnvSchema, { LXTAG_METRICS_PORT: "0" });
    expect(env.LXTAG_METRICS_HOST).toBe("127.0.0.1");
    expect(parseEnv(serviceEnvSchema, { LXTAG_METRICS_HOST: "0.0.0.0" }).LXTAG_METRICS_HOST).toBe("0.0.0.0");
  });

  it("serves /metrics on the host it is given, and nothing on port 0", async () => {
    const metrics = new WorkerMetrics("metrics-test");
    expect(metrics.serve(0, log, "127.0.0.1")).toBeUndefined();
    // port 0 means "not served" here: borrow a free port from the OS first
    const free = createServer().listen(0, "127.0.0.1");
    await once(free, "listening");
    const freePort = (free.address() as AddressInfo).port;
    await new Promise((resolve) => free.close(resolve));
    const probe = metrics.serve(freePort, log, "127.0.0.1")!;
    await once(probe, "listening");
    const { address, port } = probe.address() as AddressInfo;
    expect(address).toBe("127.0.0.1");
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('service="metrics-test"');
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    probe.close();
  });
});

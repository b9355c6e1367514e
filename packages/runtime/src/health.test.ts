// workerReadiness on real BullMQ workers: one on the running Redis (a fresh prefix and queue), one on a port where
// nothing listens.

import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, createServer } from "node:net";
import { Worker } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { parseEnv, redisConnection, serviceEnvSchema, workerReadiness } from "./index.js";

const config = parseEnv(serviceEnvSchema, process.env);
const open: Worker[] = [];
afterEach(async () => {
  for (const w of open.splice(0)) await w.close(true);
});

function worker(redisUrl: string): Worker {
  const w = new Worker(`health-${randomUUID().slice(0, 8)}`, async () => undefined, {
    connection: { ...redisConnection(redisUrl), maxRetriesPerRequest: null },
    prefix: `lxtag-test-${randomUUID().slice(0, 8)}`,
  });
  w.on("error", () => {}); // the unreachable Redis below reports every reconnect
  open.push(w);
  return w;
}

describe("workerReadiness", () => {
  it("says why while there is no worker yet", async () => {
    expect(await workerReadiness(() => undefined)()).toBe("starting");
    expect(await workerReadiness(() => undefined, "waiting for a model")()).toBe("waiting for a model");
    let why = "waiting for a model";
    const asked = workerReadiness(
      () => undefined,
      () => why,
    );
    expect(await asked()).toBe("waiting for a model");
    why = "model m failed its warm-up";
    expect(await asked()).toBe("model m failed its warm-up"); // asked again at each check
  });

  it("is ready while the worker runs on a connected Redis, and not once it pauses or closes", async () => {
    const w = worker(config.LXTAG_REDIS_URL);
    await w.waitUntilReady();
    const check = workerReadiness(() => w);
    await expect.poll(() => check(), { timeout: 5000 }).toBeUndefined();
    await w.pause(true);
    expect(await check()).toBe("paused");
    w.resume();
    await expect.poll(() => check(), { timeout: 5000 }).toBeUndefined();
    await w.close();
    expect(await check()).toBe("closing");
  });

  it("is not ready while Redis does not answer", async () => {
    const free = createServer().listen(0, "127.0.0.1");
    await once(free, "listening");
    const { port } = free.address() as AddressInfo;
    await new Promise((resolve) => free.close(resolve));
    const w = worker(`redis://127.0.0.1:${port}`);
    expect(await workerReadiness(() => w)()).toBe("redis not connected");
  });
});

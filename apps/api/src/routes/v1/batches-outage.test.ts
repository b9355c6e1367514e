// POST /v1/batches while Redis is away: the app's Redis goes through a TcpProxy that the test cuts (the shared
// Redis stays up for everyone else). A refused batch answers 503 with Retry-After and leaves nothing behind.
import { TcpProxy } from "@lxtag/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../config.js";
import { QUEUE_RETRY_AFTER_S } from "../../services/batches.js";
import { startTestApi, type TestApi, uploadForm } from "../../testing/harness.js";

const UNAVAILABLE = {
  error: "queue_unavailable",
  message: `the job queue is unavailable; nothing was stored, retry in ${QUEUE_RETRY_AFTER_S} s`,
};

describe("POST /v1/batches during a Redis outage", () => {
  let proxy: TcpProxy;
  let api: TestApi;
  beforeAll(async () => {
    proxy = await TcpProxy.start(new URL(loadConfig().LXTAG_REDIS_URL).host);
    api = await startTestApi({ env: { LXTAG_REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
  });
  afterAll(async () => {
    await proxy.restore();
    await api.deps.queues.ingest.waitUntilReady();
    await api.close();
    await proxy.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const post = (payload: unknown) =>
    api.app.inject({
      method: "POST",
      url: "/v1/batches",
      payload: payload as string,
      headers: { "x-api-key": api.key },
    });
  const batchCount = async () =>
    Number(
      (await api.deps.db.pool.query("SELECT count(*) AS n FROM batches WHERE api_key_id = $1", [api.keyId]))
        .rows[0].n,
    );
  /** The keys the app writes to S3 from now on. */
  function recordWrites(): string[] {
    const keys: string[] = [];
    for (const method of ["put", "putFile"] as const) {
      const original = api.deps.store[method].bind(api.deps.store) as (...a: unknown[]) => Promise<void>;
      vi.spyOn(api.deps.store, method).mockImplementation(async (key: string, ...rest: unknown[]) => {
        keys.push(key);
        return original(key, ...rest);
      });
    }
    return keys;
  }
  const expect503 = (res: Awaited<ReturnType<typeof post>>) => {
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe(String(QUEUE_RETRY_AFTER_S));
    expect(res.json()).toEqual(UNAVAILABLE);
  };

  it("answers uploads and JSON batches 503 queue_unavailable with Retry-After, before writing anything", async () => {
    await proxy.cut();
    await vi.waitFor(async () => expect((await api.deps.queues.ingest.client).status).not.toBe("ready"));
    const writes = recordWrites();
    const before = await batchCount();
    expect503(await post(uploadForm([{ name: "export.zip", bytes: "a zip part" }])));
    expect503(await post({ posts: [{ caption: "queued while Redis is down" }] }));
    expect(writes).toEqual([]);
    expect(await batchCount()).toBe(before);
    // reads need Postgres only, and the rate limit lets requests through while its counters are unreachable
    const models = await api.app.inject({
      method: "GET",
      url: "/v1/models",
      headers: { "x-api-key": api.key },
    });
    expect(models.statusCode).toBe(200);
    expect(api.records.filter((r) => r.level === "error")).toEqual([]);
  });

  it("removes the batch row and the uploaded parts when the queue refuses the ingest job itself", async () => {
    await proxy.restore();
    await vi.waitFor(async () => expect((await api.deps.queues.ingest.client).status).toBe("ready"), {
      timeout: 10_000,
    });
    const writes = recordWrites();
    // the connection breaks between the check and the job: the `add` fails as BullMQ fails it offline
    vi.spyOn(api.deps.queues.ingest, "add").mockRejectedValueOnce(
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    );
    const before = await batchCount();
    expect503(
      await post(
        uploadForm([
          { name: "a.zip", bytes: "part one" },
          { name: "b.zip", bytes: "part two" },
        ]),
      ),
    );
    expect(writes).toHaveLength(2);
    for (const key of writes) expect(await api.deps.store.exists(key), key).toBe(false);
    expect(await batchCount()).toBe(before);

    // once the queue takes jobs again, the same request is accepted
    const ok = await post(uploadForm([{ name: "a.zip", bytes: "part one" }]));
    expect(ok.statusCode).toBe(202);
    expect(await batchCount()).toBe(before + 1);
  });
});

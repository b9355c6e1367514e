// ObjectStore against the running S3-compatible server (s3rver), with a recording HTTP proxy in between where a
// test must see which requests were made.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { DeleteBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { parseEnv, serviceEnvSchema, storeOptions } from "@lxtag/runtime";
import { S3Proxy } from "@lxtag/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ObjectNotFoundError, ObjectStore, type ObjectStoreOptions } from "./index.js";

const base: ObjectStoreOptions = storeOptions(parseEnv(serviceEnvSchema, process.env));
const S3_ENDPOINT = base.endpoint!;

describe("ObjectStore", () => {
  const store = new ObjectStore(base);
  const admin = new S3Client({
    endpoint: S3_ENDPOINT,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  let proxy: S3Proxy;
  const created: string[] = [];

  beforeAll(async () => {
    await store.ensureBucket();
    proxy = await S3Proxy.start(S3_ENDPOINT);
  });
  afterAll(async () => {
    for (const bucket of created)
      await admin.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
    await proxy.close();
    store.destroy();
    admin.destroy();
  });

  it("puts, checks and gets objects; a missing key is ObjectNotFoundError naming the key", async () => {
    const key = `test/${randomUUID()}`;
    expect(await store.exists(key)).toBe(false);
    await store.put(key, Buffer.from("hello"));
    expect(await store.exists(key)).toBe(true);
    expect((await store.get(key)).toString()).toBe("hello");
    const err = await store.get(`${key}-missing`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectNotFoundError);
    expect((err as ObjectNotFoundError).key).toBe(`${key}-missing`);
  });

  it("deletes objects; deleting a key that names nothing is no error", async () => {
    const keys = [`test/${randomUUID()}`, `test/${randomUUID()}`];
    for (const key of keys) await store.put(key, "bytes");
    await store.delete([...keys, `test/${randomUUID()}-never-written`]);
    for (const key of keys) expect(await store.exists(key), key).toBe(false);
    await store.delete([]);
  });

  it("lists every key under a prefix, across pages, and nothing outside it", async () => {
    const prefix = `test/${randomUUID()}/`;
    const keys = Array.from({ length: 5 }, (_, i) => `${prefix}${i}`);
    await Promise.all(keys.map((k) => store.put(k, "x")));
    await store.put(`${prefix.slice(0, -1)}-sibling`, "x");
    expect((await store.list(prefix, 2)).sort()).toEqual(keys); // three pages
    expect((await store.list(prefix)).sort()).toEqual(keys);
    expect(await store.list(`test/${randomUUID()}/`)).toEqual([]);
    await store.delete([...keys, `${prefix.slice(0, -1)}-sibling`]);
    expect(await store.list(prefix)).toEqual([]);
  });

  it("creates a bucket S3 reports missing (404), and only checks it the second time", async () => {
    const bucket = `lxtag-test-${randomUUID().slice(0, 8)}`;
    created.push(bucket);
    const s = new ObjectStore({ ...base, endpoint: proxy.url, bucket });
    proxy.seen.length = 0;
    await s.ensureBucket();
    expect(proxy.seen).toEqual([`HEAD /${bucket}`, `PUT /${bucket}`]);
    proxy.seen.length = 0;
    await s.ensureBucket();
    expect(proxy.seen).toEqual([`HEAD /${bucket}`]);
    s.destroy();
  });

  it("does not try to create a bucket when S3 refuses to say (403), and throws the refusal", async () => {
    const bucket = `lxtag-test-${randomUUID().slice(0, 8)}`;
    created.push(bucket);
    // s3rver answers 403 to an access key it does not know
    const s = new ObjectStore({ ...base, endpoint: proxy.url, bucket, accessKeyId: "NOT-A-KEY" });
    proxy.seen.length = 0;
    const err = await s.ensureBucket().catch((e: unknown) => e);
    expect((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(403);
    expect(proxy.seen).toEqual([`HEAD /${bucket}`]);
    await expect(admin.send(new HeadBucketCommand({ Bucket: bucket }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    s.destroy();
  });

  it("a refused connection or a missing bucket is not ObjectNotFoundError", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const down = new ObjectStore({ ...base, endpoint: `http://127.0.0.1:${port}` });
    const refused = await down.get("any/key").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    expect(refused).not.toBeInstanceOf(ObjectNotFoundError);
    expect((refused as { code?: string }).code).toBe("ECONNREFUSED");
    down.destroy();

    const wrongBucket = new ObjectStore({ ...base, bucket: `lxtag-none-${randomUUID().slice(0, 8)}` });
    const missing = await wrongBucket.get("any/key").catch((e: unknown) => e);
    expect((missing as Error).name).toBe("NoSuchBucket");
    expect(missing).not.toBeInstanceOf(ObjectNotFoundError);
    wrongBucket.destroy();
  });
});

// ObjectStore against the running S3-compatible server (s3rver), with a recording HTTP proxy in between where a
// test must see which requests were made.
import { createHash, createHmac, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
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

  it("writes a file in one PUT up to singlePutMaxBytes, as a multipart upload past it; a missing file is no S3 error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lxtag-putfile-"));
    try {
      const bytes = Buffer.alloc(9 * 2 ** 20); // over one 8 MiB part
      for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(i, i);
      const path = join(dir, "part.zip");
      await writeFile(path, bytes);
      const file = { path, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
      const s = new ObjectStore({ ...base, endpoint: proxy.url, singlePutMaxBytes: bytes.length });
      const [one, parts] = [`test/${randomUUID()}`, `test/${randomUUID()}`];
      proxy.seen.length = 0;
      await s.putFile(one, file, "application/zip");
      expect(proxy.seen).toEqual([`PUT /${base.bucket}/${one}`]);
      const multipart = new ObjectStore({
        ...base,
        endpoint: proxy.url,
        singlePutMaxBytes: bytes.length - 1,
      });
      proxy.seen.length = 0;
      await multipart.putFile(parts, file, "application/zip");
      // create, two parts, complete
      expect(proxy.seen.filter((r) => r.endsWith(parts)).length).toBe(4);
      for (const key of [one, parts]) expect((await store.get(key)).equals(bytes), key).toBe(true);
      const stale = `test/${randomUUID()}`;
      // a file that is not there fails as the reading error (not an S3 error, so not tried again)
      await expect(s.putFile(stale, { ...file, path: join(dir, "gone.zip") })).rejects.toMatchObject({
        name: "FileBodyError",
      });
      for (const c of [s, multipart]) c.destroy();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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

  it("deletes a bucket with its objects (over one round of deletes); a bucket already gone is no error", async () => {
    const bucket = `lxtag-test-${randomUUID().slice(0, 8)}`;
    created.push(bucket);
    const s = new ObjectStore({ ...base, bucket });
    await s.ensureBucket();
    await Promise.all(Array.from({ length: 40 }, (_, i) => s.put(`features/d/${i}.safetensors`, "x")));
    await s.put("models/m/model.onnx", "x");
    await s.deleteBucket();
    await expect(admin.send(new HeadBucketCommand({ Bucket: bucket }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    await s.deleteBucket();
    s.destroy();
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

  it("reads keys with characters S3 signs escaped (spaces, unicode, reserved marks)", async () => {
    const key = `test/${randomUUID()}/a b+c!'()*%20é 写真.roi`;
    await store.put(key, Buffer.from("signed"));
    expect((await store.get(key)).toString()).toBe("signed");
    const chunks: Buffer[] = [];
    for await (const c of await store.getStream(key)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("signed");
    await store.delete([key]);
  });

  it("retries a read S3 answers 503 as the SDK does (three attempts), then throws the answer", async () => {
    const key = `test/${randomUUID()}`;
    await store.put(key, "after a while");
    const s = new ObjectStore({ ...base, endpoint: proxy.url });
    proxy.fail(key, 2);
    expect((await s.get(key)).toString()).toBe("after a while");
    expect(proxy.failed.get(key)).toBe(2);
    proxy.fail(key, 3);
    const err = await s.get(key).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "SlowDown", $metadata: { httpStatusCode: 503 } });
    expect(proxy.failed.get(key)).toBe(5);
    s.destroy();
  });

  it("addresses the bucket by path where a host name cannot carry it (an IP endpoint); an empty key is refused", async () => {
    const key = `test/${randomUUID()}`;
    await store.put(key, "by path");
    const s = new ObjectStore({ ...base, endpoint: proxy.url, forcePathStyle: false });
    proxy.seen.length = 0;
    expect((await s.get(key)).toString()).toBe("by path");
    expect(proxy.seen).toEqual([`GET /${base.bucket}/${key}`]);
    await expect(s.get("")).rejects.toBeInstanceOf(RangeError);
    s.destroy();
  });

  it("a read with credentials S3 refuses is the refusal (403), not a missing object", async () => {
    const key = `test/${randomUUID()}`;
    await store.put(key, "x");
    // s3rver checks the access key, not the signature (the signature's own test is below)
    const s = new ObjectStore({ ...base, accessKeyId: "NOT-A-KEY" });
    const err = await s.get(key).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(ObjectNotFoundError);
    expect(err).toMatchObject({ $metadata: { httpStatusCode: 403 } });
    s.destroy();
  });

  it("a body cut short, or a server gone silent, fails the read instead of passing as an object", async () => {
    const server = createServer((req, res) => {
      if (req.url?.includes("cut")) {
        res.writeHead(200, { "content-length": "100" });
        res.write(Buffer.alloc(40));
        setTimeout(() => res.destroy(), 20);
      } // else: never answers
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const s = new ObjectStore({ ...base, endpoint, requestTimeoutMs: 200 });
    await expect(s.get("cut/key")).rejects.toBeInstanceOf(Error);
    await expect(s.get("silent/key")).rejects.toMatchObject({ name: "TimeoutError" });
    s.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("signs reads, lookups and writes as AWS checks them: an independent SigV4 check accepts the SDK's requests and ours", async () => {
    const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const verdicts: boolean[] = [];
    const server = createServer(async (req, res) => {
      const body: Buffer[] = [];
      for await (const c of req) body.push(c as Buffer);
      const payload = req.headers["x-amz-content-sha256"] as string;
      // a signed payload hash must be the body's (S3 refuses the write otherwise)
      const bodyOk =
        !/^[0-9a-f]{64}$/.test(payload) ||
        createHash("sha256").update(Buffer.concat(body)).digest("hex") === payload;
      const ok = sigV4Valid(req, secret) && bodyOk;
      verdicts.push(ok);
      res.writeHead(ok ? 200 : 403, { "content-length": "2" }).end(ok ? "ok" : "no");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const options = {
      ...base,
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: secret,
    };
    const key = "folder/a b+c!'()*é 写真.roi";
    const sdk = new S3Client({ ...options, forcePathStyle: true, credentials: options });
    await sdk.send(new GetObjectCommand({ Bucket: base.bucket, Key: key }));
    await sdk.send(new PutObjectCommand({ Bucket: base.bucket, Key: key, Body: "sdk body" }));
    const s = new ObjectStore(options);
    expect((await s.get(key)).toString()).toBe("ok");
    await s.put(key, Buffer.from("our body"), "image/jpeg");
    const dir = await mkdtemp(join(tmpdir(), "lxtag-sigv4-"));
    const file = join(dir, "body");
    await writeFile(file, "a file's body");
    const sha256 = createHash("sha256").update("a file's body").digest("hex");
    await s.putFile(key, { path: file, bytes: 13, sha256 });
    await rm(dir, { recursive: true });
    expect(await s.exists(key)).toBe(true);
    // a body whose hash the caller has (a content-addressed image) is signed with it, not hashed again
    const image = Buffer.from("an image's bytes");
    await s.put(key, image, "image/jpeg", createHash("sha256").update(image).digest("hex"));
    // the checks can fail: a hash that is not the body's, and the same read with another secret, are refused
    await expect(s.put(key, image, "image/jpeg", sha256)).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
    const wrong = new ObjectStore({ ...options, secretAccessKey: "another secret" });
    await expect(wrong.get(key)).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    await expect(wrong.put(key, "x")).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    expect(verdicts).toEqual([true, true, true, true, true, true, true, false, false, false]);
    for (const c of [sdk, s, wrong]) c.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
});

/** AWS Signature Version 4 as S3 checks it, written from AWS's description (not the SDK's code). */
function sigV4Valid(req: IncomingMessage, secret: string): boolean {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(
    req.headers.authorization ?? "",
  );
  if (!auth) return false;
  const [, credential, signedHeaders, signature] = auth as unknown as [string, string, string, string];
  const [, date, region, service] = credential.split("/") as [string, string, string, string];
  const [path, query = ""] = (req.url ?? "").split("?") as [string, string?];
  const canonicalQuery = query
    .split("&")
    .filter(Boolean)
    .map((p) => (p.includes("=") ? p : `${p}=`))
    .sort()
    .join("&");
  const headers = signedHeaders
    .split(";")
    .map(
      (h) =>
        `${h}:${String(req.headers[h] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const canonical = [
    req.method,
    path,
    canonicalQuery,
    headers,
    signedHeaders,
    req.headers["x-amz-content-sha256"],
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = [
    "AWS4-HMAC-SHA256",
    req.headers["x-amz-date"],
    scope,
    createHash("sha256").update(canonical).digest("hex"),
  ].join("\n");
  const hmac = (k: string | Buffer, d: string) => createHmac("sha256", k).update(d).digest();
  const signingKey = [date, region, service, "aws4_request"].reduce<Buffer | string>(
    (k, part) => hmac(k, part),
    `AWS4${secret}`,
  );
  return createHmac("sha256", signingKey).update(toSign).digest("hex") === signature;
}

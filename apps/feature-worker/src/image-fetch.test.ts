// URL images through the real worker, from local HTTP servers: what is flagged for good, what is retried, and
// what is never fetched (http, non-public addresses, redirects to them) unless the configuration allows it.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { jobIds } from "@lxtag/contracts";
import type { Detector } from "@lxtag/vision";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FeatureHarness, tinyDetector } from "./testing/fixtures.js";
import { randomPng } from "./testing/png.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const MAX_BYTES = 20_000; // a 64x48 random PNG is about 9.3 kB
const TIMEOUT_MS = 400;

describe("feature worker fetching URL images", () => {
  let detector: Detector;
  let server: Server;
  let base: string;
  let port: number;
  /** On 127.0.0.2: the one address the redirect tests allow, so that 127.0.0.1 stays refused. */
  let front: Server;
  let frontBase: string;
  const hits = new Map<string, number>();
  /** TCP connections each server accepted: a refused URL must not even connect. */
  const connections = { server: 0, front: 0 };
  const images = new Map<string, Buffer>();
  let h: FeatureHarness | undefined;

  beforeAll(async () => {
    detector = await tinyDetector();
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const path = req.url ?? "/";
      const n = (hits.get(path) ?? 0) + 1;
      hits.set(path, n);
      const image = images.get(path.split("/").at(-1)!) ?? randomPng();
      const [, kind] = path.split("/");
      if (kind === "ok") res.writeHead(200, { "content-type": "image/png" }).end(image);
      else if (kind === "status") res.writeHead(Number(path.split("/")[2])).end("no");
      else if (kind === "big-declared")
        res.writeHead(200, { "content-length": 3 * MAX_BYTES }).end(Buffer.alloc(3 * MAX_BYTES));
      else if (kind === "big-streamed") {
        // no content-length: only counting the body finds out
        res.writeHead(200, { "content-type": "image/png" });
        for (let i = 0; i < 6; i++) res.write(Buffer.alloc(MAX_BYTES / 2));
        res.end();
      } else if (kind === "flaky") {
        if (n === 1) res.writeHead(503).end("try later");
        else res.writeHead(200).end(image);
      } else if (kind === "slow") {
        // the first answer comes long after the worker stopped waiting
        if (n === 1) setTimeout(() => res.writeHead(200).end(image), 5 * TIMEOUT_MS);
        else res.writeHead(200).end(image);
      } else if (kind === "redirect") {
        // /redirect/<url, encoded>
        res.writeHead(302, { location: decodeURIComponent(path.split("/")[2]!) }).end();
      } else if (kind === "hops") {
        // /hops/<n>/<name>: n more redirects on this server, then /ok/<name>
        const [, , n, name] = path.split("/");
        res.writeHead(302, { location: Number(n) ? `/hops/${Number(n) - 1}/${name}` : `/ok/${name}` }).end();
      } else res.writeHead(500).end();
    };
    server = createServer(handler).on("connection", () => connections.server++);
    front = createServer(handler).on("connection", () => connections.front++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.2", resolve));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    frontBase = `http://127.0.0.2:${(front.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  afterAll(async () => {
    for (const s of [server, front]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    await detector?.dispose();
  });

  /** A worker allowed to fetch http:// from `networks` (by default the test server's 127.0.0.1). */
  const start = (networks: string | null = "127.0.0.1/32") =>
    new FeatureHarness(detector, {
      LXTAG_MAX_IMAGE_BYTES: String(MAX_BYTES),
      LXTAG_IMAGE_FETCH_TIMEOUT_MS: String(TIMEOUT_MS),
      LXTAG_FEATURE_CONCURRENCY: "4",
      ...(networks === null
        ? {}
        : { LXTAG_IMAGE_FETCH_ALLOW_HTTP: "true", LXTAG_IMAGE_FETCH_ALLOW_NETWORKS: networks }),
    }).start();

  /** A worker whose jobs give up after their second attempt, soon. */
  const startGivingUp = () =>
    new FeatureHarness(detector, {
      LXTAG_IMAGE_FETCH_ALLOW_HTTP: "true",
      LXTAG_IMAGE_FETCH_ALLOW_NETWORKS: "127.0.0.1/32",
      LXTAG_RETRY_ATTEMPTS: "2",
      LXTAG_RETRY_BASE_DELAY_MS: "50",
    }).start();

  /** Enqueues a post per URL and expects each predicted from its caption with its flag, none retried. */
  async function expectFlagged(harness: FeatureHarness, cases: Record<string, string>) {
    const failures = harness.failures();
    const posts = new Map<string, string>();
    for (const url of Object.keys(cases)) posts.set(url, await harness.post(url));
    await harness.enqueue(...posts.values());
    for (const [url, flag] of Object.entries(cases)) {
      const post = posts.get(url)!;
      expect((await harness.settled(post)).returnvalue.posts, url).toEqual({ "caption-only": 1 });
      expect(await harness.row(post), url).toMatchObject({
        state: "predicting",
        flags: ["caption-only", flag],
      });
    }
    expect(failures.size).toBe(0);
  }

  it("detects a URL image", async () => {
    h = await start();
    const image = randomPng();
    images.set("fine.png", image);
    const post = await h.post(`${base}/ok/fine.png`);
    await h.enqueue(post);
    expect((await h.settled(post)).returnvalue.posts).toEqual({ detected: 1 });
    expect((await h.row(post)).imageSha256).toBe(sha256(image));
  });

  it("flags images that will never come (404, 410, 403, over the size limit) without retrying", async () => {
    h = await start();
    const failures = h.failures();
    const cases = {
      [`${base}/status/404/a.png`]: "image-error:missing",
      [`${base}/status/410/b.png`]: "image-error:missing",
      [`${base}/status/403/c.png`]: "image-error:http-403",
      [`${base}/big-declared/d.png`]: "image-error:too-large",
      [`${base}/big-streamed/e.png`]: "image-error:too-large",
    };
    const posts = new Map<string, string>();
    for (const url of Object.keys(cases)) posts.set(url, await h.post(url));
    await h.enqueue(...posts.values());
    for (const [url, flag] of Object.entries(cases)) {
      const post = posts.get(url)!;
      expect((await h.settled(post)).returnvalue.posts, url).toEqual({ "caption-only": 1 });
      expect(await h.row(post), url).toMatchObject({ state: "predicting", flags: ["caption-only", flag] });
      expect(hits.get(new URL(url).pathname), url).toBe(1);
    }
    expect(failures.size).toBe(0);
  });

  it("retries a 503 and a timeout, and detects the image once the host answers", async () => {
    h = await start();
    const failures = h.failures();
    const flaky = randomPng();
    const slow = randomPng();
    images.set("flaky.png", flaky);
    images.set("slow.png", slow);
    const posts = {
      flaky: await h.post(`${base}/flaky/flaky.png`),
      slow: await h.post(`${base}/slow/slow.png`),
    };
    await h.enqueue(posts.flaky, posts.slow);
    for (const [name, post] of Object.entries(posts)) {
      expect((await h.settled(post)).returnvalue.posts, name).toEqual({ detected: 1 });
      expect(await h.row(post), name).toEqual({
        state: "predicting",
        flags: [],
        imageSha256: sha256(name === "flaky" ? flaky : slow),
        error: null,
      });
    }
    expect(failures.get(jobIds.features(h.rangeOf(posts.flaky)))).toEqual([
      expect.stringMatching(/HTTP 503$/),
    ]);
    expect(failures.get(jobIds.features(h.rangeOf(posts.slow)))).toEqual([
      expect.stringMatching(/no answer within 400 ms$/),
    ]);
    expect(hits.get("/flaky/flaky.png")).toBe(2);
    expect(hits.get("/slow/slow.png")).toBe(2);
  });

  it("in a range, a post whose host fails once does not hold the others: they go to prediction before its retry, the range's predict job after it", async () => {
    h = await start();
    const failures = h.failures();
    const flaky = randomPng();
    images.set("range-flaky.png", flaky);
    hits.delete("/flaky/range-flaky.png");
    const steady = await h.post(`${base}/ok/range-steady.png`);
    const caption = await h.post(null);
    const late = await h.post(`${base}/flaky/range-flaky.png`);
    const range = await h.enqueueRange(h.rangeOf(steady).fromSeq, 3);
    const job = await h.settled(range);
    // the first attempt featurized two posts and failed on the third; the second took only the third
    expect(failures.get(job.id!)).toEqual([expect.stringMatching(/HTTP 503$/)]);
    expect(job.returnvalue.posts).toEqual({ detected: 1, skipped: 2 });
    expect(hits.get("/ok/range-steady.png")).toBe(1);
    expect(hits.get("/flaky/range-flaky.png")).toBe(2);
    for (const post of [steady, caption, late]) expect((await h.row(post)).state).toBe("predicting");
    // the two featurized by the failed attempt were handed on before the retry began, the range after it
    const part = await h.predict.getJob(jobIds.predictPart(range, 1));
    const whole = await h.predict.getJob(jobIds.predict(range));
    expect(part?.data).toEqual(range);
    expect(whole?.data).toEqual(range);
    expect(part!.timestamp).toBeLessThanOrEqual(job.processedOn!);
    expect(whole!.timestamp).toBeGreaterThanOrEqual(job.processedOn!);
    expect((await h.predict.getJobCounts("waiting")).waiting).toBe(2);
  });

  it("in a range whose job gives up, the posts it featurized go on to prediction and the others fail", async () => {
    h = await startGivingUp();
    const steady = await h.post(`${base}/ok/given-up-steady.png`);
    const broken = await h.post(`${base}/status/500/given-up.png`);
    const range = await h.enqueueRange(h.rangeOf(steady).fromSeq, 2);
    expect(await (await h.settled(range)).getState()).toBe("failed");
    await expect.poll(async () => (await h!.row(broken)).state).toBe("failed");
    expect((await h.row(broken)).error).toMatch(/^features-failed: .*HTTP 500$/);
    expect((await h.row(steady)).state).toBe("predicting");
    expect((await h.predict.getJob(jobIds.predict(range)))?.data).toEqual(range);
  });

  it("in a range whose last attempt featurizes some posts and gives up, only the range's predict job takes them", async () => {
    h = await startGivingUp();
    images.set("last-flaky.png", randomPng());
    hits.delete("/flaky/last-flaky.png");
    const late = await h.post(`${base}/flaky/last-flaky.png`); // 503 first, then the image
    const broken = await h.post(`${base}/status/500/last-broken.png`);
    const range = await h.enqueueRange(h.rangeOf(late).fromSeq, 2);
    const job = await h.settled(range);
    expect(await job.getState()).toBe("failed");
    expect(job.attemptsMade).toBe(2);
    expect(hits.get("/flaky/last-flaky.png")).toBe(2);
    await expect.poll(async () => (await h!.row(broken)).state).toBe("failed");
    expect((await h.row(late)).state).toBe("predicting");
    await expect.poll(async () => (await h!.predict.getJob(jobIds.predict(range)))?.data).toEqual(range);
    // the first attempt featurized nothing, and the last one handed its post to the range's job alone
    for (const attempt of [1, 2])
      expect(await h.predict.getJob(jobIds.predictPart(range, attempt))).toBeUndefined();
    expect((await h.predict.getJobCounts("waiting")).waiting).toBe(1);
  });

  it("fetches only https from public addresses by default: http, loopback, private and metadata are refused unopened", async () => {
    h = await start(null);
    connections.server = 0;
    const https = `https://127.0.0.1:${port}`;
    await expectFlagged(h, {
      [`${base}/ok/http.png`]: "image-error:not-https",
      [`${https}/ok/loopback.png`]: "image-error:unreachable",
      [`https://localhost:${port}/ok/by-name.png`]: "image-error:unreachable",
      [`https://[::1]:${port}/ok/v6.png`]: "image-error:unreachable",
      [`https://[::ffff:127.0.0.1]:${port}/ok/mapped.png`]: "image-error:unreachable",
      [`https://0x7f000001:${port}/ok/hex.png`]: "image-error:unreachable",
      "https://169.254.169.254/latest/meta-data/": "image-error:unreachable",
      "https://10.0.0.1/a.png": "image-error:unreachable",
      "https://192.168.0.1:6379/": "image-error:unreachable",
      "https://[fd00:ec2::254]/latest/meta-data/": "image-error:unreachable",
    });
    expect(connections.server).toBe(0);
  });

  it("re-checks every redirect: one to a refused address or more than 3 are refused; 3 are followed", async () => {
    // the front server's address is allowed; the test server's 127.0.0.1 is not
    h = await start("127.0.0.2/32");
    connections.server = 0;
    const to = (url: string) => `${frontBase}/redirect/${encodeURIComponent(url)}`;
    const image = randomPng();
    images.set("after-hops.png", image);
    await expectFlagged(h, {
      [to(`${base}/ok/loopback.png`)]: "image-error:unreachable",
      [to(`http://localhost:${port}/ok/by-name.png`)]: "image-error:unreachable",
      [to("http://169.254.169.254/latest/meta-data/")]: "image-error:unreachable",
      [to("ftp://example.com/a.png")]: "image-error:not-https",
      [`${frontBase}/hops/3/too-far.png`]: "image-error:too-many-redirects",
    });
    expect(connections.server).toBe(0);
    const post = await h.post(`${frontBase}/hops/2/after-hops.png`);
    await h.enqueue(post);
    expect((await h.settled(post)).returnvalue.posts).toEqual({ detected: 1 });
    expect((await h.row(post)).imageSha256).toBe(sha256(image));
  });
});

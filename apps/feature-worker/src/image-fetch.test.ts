// URL images through the real worker, from a local HTTP server: what is flagged for good and what is retried.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
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
  const hits = new Map<string, number>();
  const images = new Map<string, Buffer>();
  let h: FeatureHarness | undefined;

  beforeAll(async () => {
    detector = await tinyDetector();
    server = createServer((req, res) => {
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
      } else res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await detector?.dispose();
  });

  const start = () =>
    new FeatureHarness(detector, {
      LXTAG_MAX_IMAGE_BYTES: String(MAX_BYTES),
      LXTAG_IMAGE_FETCH_TIMEOUT_MS: String(TIMEOUT_MS),
      LXTAG_FEATURE_CONCURRENCY: "4",
    }).start();

  it("detects a URL image", async () => {
    h = await start();
    const image = randomPng();
    images.set("fine.png", image);
    const post = await h.post(`${base}/ok/fine.png`);
    await h.enqueue(post);
    expect((await h.settled(post)).returnvalue).toEqual({ outcome: "detected" });
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
      expect((await h.settled(post)).returnvalue, url).toEqual({ outcome: "caption-only" });
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
      expect((await h.settled(post)).returnvalue, name).toEqual({ outcome: "detected" });
      expect(await h.row(post), name).toEqual({
        state: "predicting",
        flags: [],
        imageSha256: sha256(name === "flaky" ? flaky : slow),
        error: null,
      });
    }
    expect(failures.get(`features-${posts.flaky}`)).toEqual([expect.stringMatching(/HTTP 503$/)]);
    expect(failures.get(`features-${posts.slow}`)).toEqual([
      expect.stringMatching(/no answer within 400 ms$/),
    ]);
    expect(hits.get("/flaky/flaky.png")).toBe(2);
    expect(hits.get("/slow/slow.png")).toBe(2);
  });
});

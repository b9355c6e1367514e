import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Proxy } from "./s3-proxy.js";

describe("S3Proxy", () => {
  let upstream: Server;
  let proxy: S3Proxy;
  beforeAll(async () => {
    // an upstream that echoes what it was asked
    upstream = createServer((req, res) => res.end(`${req.method} ${req.url}`));
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    proxy = await S3Proxy.start(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it("forwards requests and records each one's method and path, without query or trailing slash", async () => {
    const res = await fetch(`${proxy.url}/bucket/a/key?x-id=GetObject`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("GET /bucket/a/key?x-id=GetObject");
    await fetch(`${proxy.url}/bucket/`, { method: "HEAD" });
    expect(proxy.seen).toEqual(["GET /bucket/a/key", "HEAD /bucket"]);
  });

  it("answers 503 SlowDown to the next requests for a failed key only, then forwards again", async () => {
    proxy.fail("rois/broken", 2);
    const answers = [];
    for (const path of [
      "/bucket/rois/broken",
      "/bucket/rois/fine",
      "/bucket/rois/broken",
      "/bucket/rois/broken",
    ]) {
      const res = await fetch(`${proxy.url}${path}`);
      answers.push(`${res.status} ${(await res.text()).includes("<Code>SlowDown</Code>")}`);
    }
    expect(answers).toEqual(["503 true", "200 false", "503 true", "200 false"]);
    expect(proxy.failed.get("rois/broken")).toBe(2);
  });
});

// The routes the review desk reads beside the core API: the key's batches, filtered and ordered post pages,
// thumbnails, the vocabulary and the corrected-labels CSV; and the desk's static files with their cache headers.
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { registerDesk } from "../../http/desk.js";
import { type SeededBatch, seedBatch, seedModel } from "../../testing/fixtures.js";
import { useTestApi } from "../../testing/harness.js";

describe("review desk routes", () => {
  const api = useTestApi();
  let auth: { "x-api-key": string };
  let other: { "x-api-key": string };
  let seeded: SeededBatch;
  let modelId: string;
  const get = (url: string, headers: Record<string, string> = auth) =>
    api.app.inject({ method: "GET", url, headers });

  beforeAll(async () => {
    auth = { "x-api-key": api.key };
    other = { "x-api-key": (await api.newKey()).key };
    modelId = await seedModel(api);
    seeded = await seedBatch(api.deps, api.keyId, modelId);
  });

  it("GET /v1/batches lists the key's batches newest first, with summaries, and pages; another key sees none", async () => {
    const second = await seedBatch(api.deps, api.keyId, modelId);
    const res = await get("/v1/batches?limit=1");
    expect(res.statusCode).toBe(200);
    const page = res.json();
    expect(page.batches).toEqual([
      expect.objectContaining({ id: second.batchId, state: "done", totalPosts: 3 }),
    ]);
    expect(page.nextCursor).toBe(second.batchId);
    const rest = (await get(`/v1/batches?limit=50&cursor=${page.nextCursor}`)).json();
    expect(rest.batches.map((b: { id: string }) => b.id)).toContain(seeded.batchId);
    expect(rest.batches.map((b: { id: string }) => b.id)).not.toContain(second.batchId);
    expect((await get("/v1/batches", other)).json()).toEqual({ batches: [], nextCursor: null });
    // another key's batch as the cursor answers as an unknown id does: it tells nothing of that batch
    const theirs = await seedBatch(api.deps, (await api.newKey()).keyId, modelId);
    for (const cursor of [theirs.batchId, randomUUID()])
      expect((await get(`/v1/batches?limit=50&cursor=${cursor}`)).json()).toEqual({
        batches: [],
        nextCursor: null,
      });
  });

  describe("GET /v1/batches/:id/posts filters and orders", () => {
    const ids = async (query: string) =>
      (await get(`/v1/batches/${seeded.batchId}/posts?${query}`))
        .json()
        .posts.map((p: { id: string }) => p.id);

    it("by flag, by hashtag (predicted, or a label), by best score below a threshold", async () => {
      expect(await ids("flag=caption-only")).toEqual([seeded.postIds[0], seeded.postIds[1]]);
      expect(await ids("flag=video")).toEqual([]);
      // predicted for the first post, in the second's caption ("Lunch #food")
      expect(await ids("hashtag=food")).toEqual([seeded.postIds[0], seeded.postIds[1]]);
      expect(await ids("hashtag=%23Travel")).toEqual([seeded.postIds[0]]);
      await api.deps.repos.labels.apply(seeded.postIds[2], ["beach"], []);
      expect(await ids("hashtag=beach")).toEqual([seeded.postIds[2]]); // a human label
      expect(await ids("scoreBelow=0.6")).toEqual([seeded.postIds[0]]);
      expect(await ids("scoreBelow=0.5")).toEqual([]);
    });

    it("in uncertainty order (scores nearest 0.5 first, posts without scores last), paged with `next`", async () => {
      const first = (await get(`/v1/batches/${seeded.batchId}/posts?order=uncertainty&limit=2`)).json();
      expect(first.posts.map((p: { id: string }) => p.id)).toEqual([seeded.postIds[0], seeded.postIds[1]]);
      expect(first.nextCursor).toBeNull();
      expect(first.next).toBe("1:1");
      const rest = (
        await get(`/v1/batches/${seeded.batchId}/posts?order=uncertainty&limit=2&after=${first.next}`)
      ).json();
      expect(rest).toMatchObject({ posts: [{ id: seeded.postIds[2] }], next: null, nextCursor: null });
      const seqPage = (await get(`/v1/batches/${seeded.batchId}/posts?limit=1&after=0`)).json();
      expect(seqPage).toMatchObject({ posts: [{ id: seeded.postIds[1] }], nextCursor: 1, next: "1" });
    });

    it("refuses a malformed page token", async () => {
      const res = await get(`/v1/batches/${seeded.batchId}/posts?after=abc`);
      expect(res.statusCode).toBe(400);
    });
  });

  it("GET /v1/posts/:id/thumbnail resizes the stored image to WebP, with a validator; 404s otherwise", async () => {
    const png = await sharp({ create: { width: 800, height: 600, channels: 3, background: "#3366cc" } })
      .png()
      .toBuffer();
    const key = `uploads/${api.keyId}/${randomUUID()}/photo.png`;
    await api.deps.store.put(key, png, "image/png");
    await api.deps.db.pool.query("UPDATE posts SET image_key = $1, image_sha256 = 'abc' WHERE id = $2", [
      key,
      seeded.postIds[0],
    ]);
    const res = await get(`/v1/posts/${seeded.postIds[0]}/thumbnail?size=128`);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("image/webp");
    expect(res.headers["cache-control"]).toBe("private, max-age=86400");
    const meta = await sharp(res.rawPayload).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["webp", 128, 96]);
    const again = await get(`/v1/posts/${seeded.postIds[0]}/thumbnail?size=128`, {
      ...auth,
      "if-none-match": String(res.headers.etag),
    });
    expect(again.statusCode).toBe(304);
    expect((await get(`/v1/posts/${seeded.postIds[0]}/thumbnail`, other)).statusCode).toBe(404);
    const none = await get(`/v1/posts/${seeded.postIds[1]}/thumbnail`);
    expect([none.statusCode, none.json().error]).toEqual([404, "no_thumbnail"]);
    expect((await get(`/v1/posts/${seeded.postIds[0]}/thumbnail?size=4096`)).statusCode).toBe(400);
  });

  it("GET /v1/vocabulary answers the hashtags of a model the key sees when none is active", async () => {
    const res = (await get("/v1/vocabulary")).json();
    // the shared registry may have an active model; otherwise this key's newest model
    expect(res.hashtags.length).toBeGreaterThan(0);
    if (res.modelVersion === modelId) expect(res.hashtags).toEqual(["travel", "food"]);
  });

  it("GET /v1/batches/:id/labels answers the human corrections as CSV; another key's batch is 404", async () => {
    await api.deps.repos.labels.apply(seeded.postIds[0], ["sunset"], ["food"], { reviewer: "Ana, QA" });
    await api.deps.repos.labels.apply(seeded.postIds[2], ["beach"], []);
    const res = await get(`/v1/batches/${seeded.batchId}/labels`);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/csv; charset=utf-8");
    const lines = res.body.trim().split("\n");
    expect(lines[0]).toBe("post_id,external_id,seq,hashtag,action,reviewer,labeled_at");
    expect(lines.slice(1).map((l) => l.replace(/,\d{4}-\d\d-\d\dT[\d:.]+Z$/, ""))).toEqual([
      `${seeded.postIds[0]},"ext,1",0,food,remove,"Ana, QA"`,
      `${seeded.postIds[0]},"ext,1",0,sunset,add,"Ana, QA"`,
      `${seeded.postIds[2]},,2,beach,add,`,
    ]);
    expect((await get(`/v1/batches/${seeded.batchId}/labels`, other)).statusCode).toBe(404);
  });
});

describe("the desk's static files", () => {
  it("redirects / to /desk/, serves index.html no-cache with a CSP, hashed assets immutable", async () => {
    const root = await mkdtemp(join(tmpdir(), "desk-"));
    await mkdir(join(root, "assets"));
    await writeFile(join(root, "index.html"), '<script src="assets/main-ABC.js"></script>');
    await writeFile(join(root, "assets/main-ABC.js"), "console.log(1)");
    const app = Fastify();
    await registerDesk(app, root);
    const home = await app.inject({ url: "/" });
    expect([home.statusCode, home.headers.location]).toEqual([302, "/desk/"]);
    const index = await app.inject({ url: "/desk/" });
    expect(index.statusCode).toBe(200);
    expect(index.headers["cache-control"]).toBe("no-cache");
    expect(index.headers["content-security-policy"]).toContain("default-src 'self'");
    const asset = await app.inject({ url: "/desk/assets/main-ABC.js" });
    expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    await app.close();
  });

  it("answers 503 with a hint when the desk is not built", async () => {
    const app = Fastify();
    await registerDesk(app, join(tmpdir(), `missing-${randomUUID()}`));
    const res = await app.inject({ url: "/desk/" });
    expect([res.statusCode, res.body]).toEqual([503, "the review desk is not built: run `npm run build`"]);
    await app.close();
  });
});

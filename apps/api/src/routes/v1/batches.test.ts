import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { jobIds } from "@lxtag/contracts";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { firstPostView, seedBatch, seedModel } from "../../testing/fixtures.js";
import { uploadForm, useTestApi } from "../../testing/harness.js";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("/v1/batches", () => {
  const api = useTestApi();
  let auth: { "x-api-key": string };
  let modelId: string;
  beforeAll(async () => {
    auth = { "x-api-key": api.key };
    modelId = await seedModel(api);
  });

  const post = (payload: unknown, headers: Record<string, string> = auth) =>
    api.app.inject({ method: "POST", url: "/v1/batches", payload: payload as string, headers });
  const get = (url: string, headers: Record<string, string> = auth) =>
    api.app.inject({ method: "GET", url, headers });

  /** The keys of the upload parts the app writes from now on. */
  function recordWrites(): string[] {
    const keys: string[] = [];
    const putFile = api.deps.store.putFile.bind(api.deps.store);
    vi.spyOn(api.deps.store, "putFile").mockImplementation(async (key, ...rest) => {
      keys.push(key);
      return putFile(key, ...rest);
    });
    return keys;
  }

  /**
   * A refused upload leaves nothing: neither its parts (in S3 and in the upload spool) nor the batch it created
   * before writing them.
   */
  async function expectDeleted(keys: string[], n: number) {
    expect(keys).toHaveLength(n);
    for (const key of keys) {
      expect(key.startsWith(`uploads/${api.keyId}/`), key).toBe(true);
      expect(await api.deps.store.exists(key), key).toBe(false);
      const batchId = key.split("/")[2]!;
      expect(await api.deps.repos.batches.find(batchId), batchId).toBeNull();
      expect(existsSync(join(api.deps.spool.dir, batchId)), batchId).toBe(false);
    }
  }

  /** The batch row and its ingest job: what a 202 promises. */
  async function expectAccepted(res: Awaited<ReturnType<typeof post>>) {
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body).toEqual({
      batchId: expect.any(String),
      state: "queued",
      links: { self: `/v1/batches/${body.batchId}` },
    });
    const row = await api.deps.repos.batches.find(body.batchId);
    expect(row?.apiKeyId).toBe(api.keyId);
    expect(row?.state).toBe("queued");
    const job = await api.deps.queues.ingest.getJob(jobIds.ingest(body.batchId));
    expect(job?.data).toEqual({ batchId: body.batchId });
    return { batchId: body.batchId as string, row: row! };
  }

  describe("POST (create)", () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });
    it("accepts a multipart upload: each part lands in S3 under uploads/<apiKeyId>/<batchId>/", async () => {
      const form = uploadForm(
        [
          { name: "export-1.zip", bytes: "first part" },
          { name: "export-2.zip", bytes: new Uint8Array([0, 1, 2, 255]) },
        ],
        JSON.stringify({ includeReels: false }),
      );
      const { batchId, row } = await expectAccepted(await post(form));
      const keys = [1, 2].map((n) => `uploads/${api.keyId}/${batchId}/part-${n}.zip`);
      expect(row.source).toEqual({ type: "zip", keys });
      expect(row.options).toEqual({ includeReels: false, includeArchived: false, allowTraining: true });
      expect((await api.deps.store.get(keys[0]!)).toString()).toBe("first part");
      expect([...(await api.deps.store.get(keys[1]!))]).toEqual([0, 1, 2, 255]);
      // and a sealed copy of each stays on this host for the ingest job
      const copies = await api.deps.spool.copies(batchId, keys);
      expect(copies).toHaveLength(2);
      expect(await api.deps.spool.copies(batchId, [...keys, `${keys[0]}-never-uploaded`])).toBeUndefined();
    });

    it("creates the batch, uploading, before it writes the first part; one the API is gone from can be found", async () => {
      const seen: { state?: string; apiKeyId?: string }[] = [];
      const putFile = api.deps.store.putFile.bind(api.deps.store);
      vi.spyOn(api.deps.store, "putFile").mockImplementation(async (key, ...rest) => {
        const row = await api.deps.repos.batches.find(key.split("/")[2]!);
        seen.push({ state: row?.state, apiKeyId: row?.apiKeyId });
        return putFile(key, ...rest);
      });
      const { batchId } = await expectAccepted(await post(uploadForm([{ name: "a.zip", bytes: "zip" }])));
      expect(seen).toEqual([{ state: "uploading", apiKeyId: api.keyId }]);
      const summary = await get(`/v1/batches/${batchId}`);
      expect(summary.json().state).toBe("queued");
    });

    it("answers 409 upload_abandoned when the reconciler gave the upload up while it streamed, deleting its part", async () => {
      const written: string[] = [];
      const putFile = api.deps.store.putFile.bind(api.deps.store);
      vi.spyOn(api.deps.store, "putFile").mockImplementation(async (key, ...rest) => {
        written.push(key);
        await putFile(key, ...rest);
        // what the reconciler does with an upload it takes for abandoned, while this one is still streaming
        await api.deps.repos.batches.failUpload(key.split("/")[2]!, "upload-abandoned: test");
      });
      const res = await post(uploadForm([{ name: "a.zip", bytes: "zip" }]));
      expect(res.statusCode).toBe(409);
      const batchId = written[0]!.split("/")[2]!;
      expect(res.json()).toEqual({
        error: "upload_abandoned",
        message: `the upload took longer than 3600 s and its batch ${batchId} was given up as abandoned; nothing was kept, upload again`,
      });
      expect(await api.deps.store.exists(written[0]!)).toBe(false);
      const row = await api.deps.repos.batches.find(batchId);
      expect(row?.state).toBe("failed");
      expect(await api.deps.queues.ingest.getJob(jobIds.ingest(batchId))).toBeUndefined();
    });

    it("accepts inline JSON posts: stored in S3, one ingest job with the batch's job id", async () => {
      const posts = [{ caption: "Sunset #travel", externalId: "p1" }, { caption: "second" }];
      const { batchId, row } = await expectAccepted(
        await post({ posts, options: { includeArchived: true } }),
      );
      const key = `uploads/${api.keyId}/${batchId}/posts.json`;
      expect(row.source).toEqual({ type: "json", key });
      expect(row.options).toEqual({ includeReels: true, includeArchived: true, allowTraining: true });
      // the body as sent, streamed to S3 (the ingest reads its `posts`)
      expect(JSON.parse((await api.deps.store.get(key)).toString())).toEqual({
        posts,
        options: { includeArchived: true },
      });
      expect(await api.deps.queues.ingest.getJobCountByTypes("waiting")).toBeGreaterThanOrEqual(1);
    });

    it("accepts zip parts already in S3 under the key's own prefix (s3Keys)", async () => {
      const key = `uploads/${api.keyId}/${randomUUID()}/part-1.zip`;
      await api.deps.store.put(key, "zip", "application/zip");
      const { row } = await expectAccepted(await post({ s3Keys: [key] }));
      expect(row.source).toEqual({ type: "zip", keys: [key] });
      expect(row.options).toEqual({ includeReels: true, includeArchived: false, allowTraining: true });
    });

    it("refuses an s3Key that names no object (400), creating nothing", async () => {
      const key = `uploads/${api.keyId}/${randomUUID()}.zip`;
      const before = await api.deps.queues.ingest.count();
      const res = await post({ s3Keys: [key] });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: "unknown_object", message: `object not found: ${key}` });
      expect(await api.deps.queues.ingest.count()).toBe(before);
    });

    it("refuses s3Keys outside the key's own prefix (403), existing or not, creating nothing", async () => {
      // the other tenant's real upload, written by the API itself
      const other = await api.newKey();
      const theirs = await post(uploadForm([{ name: "theirs.zip", bytes: "their export" }]), {
        "x-api-key": other.key,
      });
      expect(theirs.statusCode).toBe(202);
      const theirPart = `uploads/${other.keyId}/${theirs.json().batchId}/part-1.zip`;
      expect(await api.deps.store.exists(theirPart)).toBe(true);
      const mine = `uploads/${api.keyId}/`;
      await api.deps.store.put("detectors/test-not-yours.json", "{}");
      const cases: [string, string][] = [
        [theirPart, `not under this API key's prefix ${mine}`],
        [
          `uploads/${other.keyId}/${randomUUID()}/never-written.zip`,
          `not under this API key's prefix ${mine}`,
        ],
        ["detectors/test-not-yours.json", `not under this API key's prefix ${mine}`],
        [`uploads/${api.keyId}`, `not under this API key's prefix ${mine}`],
        [`${mine}../${other.keyId}/x/part-1.zip`, "a key with an empty, '.' or '..' path segment"],
        [`${mine}a//part-1.zip`, "a key with an empty, '.' or '..' path segment"],
        [`${mine}a/part-1.zip\n`, "a key with control characters"],
      ];
      const before = await api.deps.queues.ingest.count();
      for (const [key, reason] of cases) {
        // an own key first: the refusal is about the foreign one, wherever it is in the list
        const res = await post({ s3Keys: [`${mine}${randomUUID()}.zip`, key] });
        expect(res.statusCode, key).toBe(403);
        expect(res.json(), key).toEqual({
          error: "forbidden_object",
          message: `s3Keys entry ${JSON.stringify(key)} is ${reason}`,
        });
      }
      expect(await api.deps.queues.ingest.count()).toBe(before);
      // the owner may name its own upload again
      const again = await post({ s3Keys: [theirPart] }, { "x-api-key": other.key });
      expect(again.statusCode).toBe(202);
    });

    it("refuses a multipart upload without a file part (400)", async () => {
      const res = await post(uploadForm([], JSON.stringify({ includeReels: true })));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: "missing_upload",
        message: "multipart upload without any file part",
      });
    });

    it("refuses malformed JSON in the multipart options field (400, not 500), deleting the part it wrote", async () => {
      const written = recordWrites();
      const res = await post(uploadForm([{ name: "a.zip", bytes: "zip" }], "{includeReels: nope"));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: "invalid_json", message: "options is not valid JSON" });
      await expectDeleted(written, 1);
    });

    it("refuses options of the wrong types in a multipart upload (400), deleting every part it wrote", async () => {
      const written = recordWrites();
      const res = await post(
        uploadForm(
          [
            { name: "a.zip", bytes: "zip" },
            { name: "b.zip", bytes: "zip" },
          ],
          JSON.stringify({ includeReels: "yes" }),
        ),
      );
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: "bad_request",
        message: "includeReels: Invalid input: expected boolean, received string",
      });
      await expectDeleted(written, 2);
    });

    it("refuses a JSON body that is neither posts nor s3Keys (400)", async () => {
      const res = await post({ images: ["a"] });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: "bad_request",
        message: "body: expected {posts: [...]} or {s3Keys: [...]}",
      });
    });

    it("refuses wrong types and empty lists, naming the field (400)", async () => {
      const empty = await post({ posts: [] });
      expect(empty.statusCode).toBe(400);
      expect(empty.json()).toEqual({
        error: "bad_request",
        message: "posts: Too small: expected array to have >=1 items",
      });
      const options = await post({ posts: [{ caption: "x" }], options: { includeReels: 1 } });
      expect(options.statusCode).toBe(400);
      expect(options.json()).toEqual({
        error: "bad_request",
        message: "options.includeReels: Invalid input: expected boolean, received number",
      });
      const keys = await post({ s3Keys: ["a.zip", 7] });
      expect(keys.statusCode).toBe(400);
      expect(keys.json()).toEqual({
        error: "bad_request",
        message: "s3Keys.1: Invalid input: expected string, received number",
      });
      // either branch is as likely: the union's own message
      const posts = await post({ posts: "a caption" });
      expect(posts.json()).toEqual({
        error: "bad_request",
        message: "body: expected {posts: [...]} or {s3Keys: [...]}",
      });
    });

    it("refuses a body that is not JSON (400)", async () => {
      const res = await post('{"posts": [', { ...auth, "content-type": "application/json" });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: "invalid_json",
        message:
          "body is not valid JSON: unexpected end of the JSON text (is it cut short?) at line 1 column 12 (character 11)",
      });
    });

    it("refuses a request with no body at all (400)", async () => {
      const res = await api.app.inject({ method: "POST", url: "/v1/batches", headers: auth });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: "missing_upload",
        message: "send zip parts as multipart/form-data, or a JSON body",
      });
    });
  });

  describe("GET /:id (summary)", () => {
    it("answers state, counts, progress, ISO timestamps, warnings and error reasons", async () => {
      const { batchId } = await seedBatch(api.deps, api.keyId, modelId);
      const res = await get(`/v1/batches/${batchId}`);
      expect(res.statusCode).toBe(200);
      const row = (await api.deps.repos.batches.find(batchId))!;
      expect(res.json()).toEqual({
        id: batchId,
        state: "done",
        totalPosts: 3,
        duplicatePosts: 0,
        counts: { pending: 0, featurizing: 0, predicting: 0, done: 2, failed: 1 },
        ingest: { postsRead: 3, postsTotal: 3 },
        progress: 1,
        createdAt: row.createdAt.toISOString(),
        ingestedAt: row.ingestedAt!.toISOString(),
        finishedAt: row.finishedAt!.toISOString(),
        error: null,
        warnings: ["1 post: media-missing"],
        errors: [{ reason: "invalid-post", count: 1 }],
      });
      expect(res.json().createdAt).toMatch(ISO);
    });

    it("answers 404 for an unknown id and for another key's batch", async () => {
      const unknown = randomUUID();
      const res = await get(`/v1/batches/${unknown}`);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: "not_found", message: `batch ${unknown} not found` });

      const { batchId } = await seedBatch(api.deps, api.keyId, modelId);
      const other = await api.newKey();
      const theirs = await get(`/v1/batches/${batchId}`, { "x-api-key": other.key });
      expect(theirs.statusCode).toBe(404);
      expect(theirs.json()).toEqual({ error: "not_found", message: `batch ${batchId} not found` });
    });

    it("answers 400 for an id that is not a uuid", async () => {
      const res = await get("/v1/batches/not-a-uuid");
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: "bad_request", message: "id: Invalid UUID" });
    });
  });

  describe("GET /:id/posts (pages)", () => {
    it("pages through the posts in seq order with a cursor", async () => {
      const { batchId, postIds } = await seedBatch(api.deps, api.keyId, modelId);
      const first = await get(`/v1/batches/${batchId}/posts?limit=2`);
      expect(first.statusCode).toBe(200);
      const page = first.json();
      expect(page.posts.map((p: { id: string }) => p.id)).toEqual(postIds.slice(0, 2));
      expect(page.nextCursor).toBe(1);
      expect(page.posts[0]).toEqual({ id: postIds[0], ...firstPostView(modelId) });
      const next = await get(`/v1/batches/${batchId}/posts?limit=2&cursor=${page.nextCursor}`);
      expect(next.json()).toEqual({
        posts: [expect.objectContaining({ id: postIds[2], state: "failed" })],
        nextCursor: null,
        next: null,
      });
    });

    it("filters by state", async () => {
      const { batchId, postIds } = await seedBatch(api.deps, api.keyId, modelId);
      const failed = await get(`/v1/batches/${batchId}/posts?state=failed`);
      expect(failed.statusCode).toBe(200);
      expect(failed.json().posts.map((p: { id: string }) => p.id)).toEqual([postIds[2]]);
      expect(failed.json().posts[0].error).toBe('invalid-post: caption: bad, "quoted"\nsecond line');
    });

    it("refuses a bad cursor, limit or state (400)", async () => {
      const { batchId } = await seedBatch(api.deps, api.keyId, modelId);
      const cases: [string, string][] = [
        ["cursor=abc", "cursor: Invalid input: expected number, received NaN"],
        ["cursor=-1", "cursor: Too small: expected number to be >=0"],
        ["limit=0", "limit: Too small: expected number to be >=1"],
        [
          "state=stuck",
          'state: Invalid option: expected one of "pending"|"featurizing"|"predicting"|"done"|"failed"',
        ],
      ];
      for (const [query, message] of cases) {
        const res = await get(`/v1/batches/${batchId}/posts?${query}`);
        expect(res.statusCode, query).toBe(400);
        expect(res.json(), query).toEqual({ error: "bad_request", message });
      }
    });

    it("answers 404 for another key's batch", async () => {
      const { batchId } = await seedBatch(api.deps, api.keyId, modelId);
      const other = await api.newKey();
      const res = await get(`/v1/batches/${batchId}/posts`, { "x-api-key": other.key });
      expect(res.statusCode).toBe(404);
    });
  });

  describe("GET /:id/results", () => {
    it("streams NDJSON by default: one post per line, in seq order", async () => {
      const { batchId, postIds } = await seedBatch(api.deps, api.keyId, modelId);
      const res = await get(`/v1/batches/${batchId}/results`);
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toBe("application/x-ndjson");
      const lines = res.body
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.id)).toEqual(postIds);
      expect(lines[0]).toMatchObject({ externalId: "ext,1", modelVersion: modelId, labels: ["travel"] });
      expect(lines[2]).toMatchObject({ state: "failed", hashtags: [], modelVersion: null });
    });

    it("streams CSV with format=csv or Accept: text/csv, quoting commas, quotes and newlines", async () => {
      const { batchId, postIds } = await seedBatch(api.deps, api.keyId, modelId);
      const expected =
        "post_id,external_id,seq,taken_at,media_uris,state,error,rank,hashtag,score,in_caption,model_version\n" +
        `${postIds[0]},"ext,1",0,,,done,,1,travel,0.5,true,${modelId}\n` +
        `${postIds[0]},"ext,1",0,,,done,,2,food,0.25,false,${modelId}\n` +
        `${postIds[1]},,1,,,done,,,,,,\n` + // saved without ranked hashtags: no prediction row names a model
        `${postIds[2]},,2,,,failed,"invalid-post: caption: bad, ""quoted""\nsecond line",,,,,\n`;
      const byQuery = await get(`/v1/batches/${batchId}/results?format=csv`);
      expect(byQuery.statusCode).toBe(200);
      expect(byQuery.headers["content-type"]).toBe("text/csv; charset=utf-8");
      expect(byQuery.body).toBe(expected);
      const byAccept = await get(`/v1/batches/${batchId}/results`, { ...auth, accept: "text/csv" });
      expect(byAccept.headers["content-type"]).toBe("text/csv; charset=utf-8");
      expect(byAccept.body).toBe(expected);
    });

    it("refuses an unknown format (400) and another key's batch (404)", async () => {
      const { batchId } = await seedBatch(api.deps, api.keyId, modelId);
      const xml = await get(`/v1/batches/${batchId}/results?format=xml`);
      expect(xml.statusCode).toBe(400);
      expect(xml.json()).toEqual({
        error: "bad_request",
        message: 'format: Invalid option: expected one of "ndjson"|"csv"',
      });
      const other = await api.newKey();
      const theirs = await get(`/v1/batches/${batchId}/results`, { "x-api-key": other.key });
      expect(theirs.statusCode).toBe(404);
      expect(theirs.json()).toEqual({ error: "not_found", message: `batch ${batchId} not found` });
    });
  });
});

describe("/v1/batches with a small part limit", () => {
  const api = useTestApi({ env: { LXTAG_UPLOAD_MAX_BYTES: "16" } });

  it("refuses a part over the limit (413) and deletes what it wrote of it and of the parts before", async () => {
    const keys: string[] = [];
    const putFile = api.deps.store.putFile.bind(api.deps.store);
    const spy = vi.spyOn(api.deps.store, "putFile").mockImplementation(async (key, ...rest) => {
      keys.push(key);
      return putFile(key, ...rest);
    });
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      headers: { "x-api-key": api.key },
      payload: uploadForm([
        { name: "small.zip", bytes: "fits" },
        { name: "big.zip", bytes: "x".repeat(64) },
      ]) as unknown as string,
    });
    spy.mockRestore();
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({
      error: "payload_too_large",
      message: "upload part big.zip exceeds 16 bytes",
    });
    // the small part was stored, the big one refused once received (before it went to S3)
    expect(keys).toHaveLength(1);
    const batchId = keys[0]!.split("/")[2]!;
    for (const key of [keys[0]!, keys[0]!.replace("part-1", "part-2")])
      expect(await api.deps.store.exists(key), key).toBe(false);
    expect(existsSync(join(api.deps.spool.dir, batchId))).toBe(false);
  });
});

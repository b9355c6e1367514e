// POST /v1/batches/:id/relabel over the real services, on a scratch database (it reads the registry's active model).
import { randomUUID } from "node:crypto";
import { RELABEL_POSTS_PER_JOB, type RelabelJob } from "@lxtag/contracts";
import { examplePost } from "@lxtag/db/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { seedBatch, seedModel } from "../../testing/fixtures.js";
import { useTestApi } from "../../testing/harness.js";

describe("POST /v1/batches/:id/relabel", () => {
  const api = useTestApi({ scratchDatabase: true });
  let auth: { "x-api-key": string };
  let first: string;
  let second: string;
  beforeAll(async () => {
    auth = { "x-api-key": api.key };
    first = await seedModel(api);
    second = await seedModel(api);
  });

  const relabel = (batchId: string, headers: Record<string, string> = auth) =>
    api.app.inject({ method: "POST", url: `/v1/batches/${batchId}/relabel`, headers });
  const relabelJobs = async () =>
    (await api.deps.queues.predict.getJobs(["waiting"])).filter((j) => j.name === "relabel");

  it("answers 409 no_active_model while no model is active", async () => {
    const { batchId } = await seedBatch(api.deps, api.keyId, first);
    const res = await relabel(batchId);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({
      error: "no_active_model",
      message: "no model is active: activate one (POST /v1/models/:id/activate) before relabeling",
    });
  });

  it("reads a stray body as any route does: 413 past 1 MiB (only batch creation streams its body)", async () => {
    const { batchId } = await seedBatch(api.deps, api.keyId, first);
    const res = await api.app.inject({
      method: "POST",
      url: `/v1/batches/${batchId}/relabel`,
      headers: { ...auth, "content-type": "application/json" },
      payload: JSON.stringify({ filler: "x".repeat(2 ** 20) }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: "payload_too_large" });
  });

  it("queues the finished posts for the active model; earlier predictions stay until the new ones are written", async () => {
    await api.deps.repos.models.activate(second);
    const { batchId, postIds } = await seedBatch(api.deps, api.keyId, first);
    const res = await relabel(batchId);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      batchId,
      modelVersion: second,
      posts: 2, // the failed post has nothing to relabel
      jobs: 1,
      links: { self: `/v1/batches/${batchId}`, results: `/v1/batches/${batchId}/results` },
    });
    const jobs = (await relabelJobs()).filter((j) => (j.data as RelabelJob).batchId === batchId);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.data).toEqual({ batchId, modelVersion: second, postIds: [postIds[0], postIds[1]] });
    expect(jobs[0]!.id).toMatch(new RegExp(`^relabel-${batchId}-${second}-[0-9a-f]{8}-0$`));
    expect(RELABEL_POSTS_PER_JOB).toBeGreaterThan(1);

    // until the worker writes, the results are the first model's
    const view = async () =>
      (await api.app.inject({ method: "GET", url: `/v1/posts/${postIds[0]}`, headers: auth })).json();
    expect(await view()).toMatchObject({ modelVersion: first, previousModelVersion: null });
    await api.deps.repos.posts.savePredictions(second, [
      { postId: postIds[0], ranked: [{ hashtag: "food", score: 0.9 }] },
    ]);
    expect(await view()).toMatchObject({
      modelVersion: second,
      previousModelVersion: first,
      hashtags: [{ hashtag: "food", score: 0.9, rank: 1, inCaption: false }],
    });

    // asked again: only the post whose newest predictions are still the first model's
    const again = await relabel(batchId);
    expect(again.json()).toMatchObject({ posts: 1, jobs: 1 });
  });

  it("queues posts that share an image one after another (a micro-batch reads and decodes each image once)", async () => {
    await api.deps.repos.models.activate(second);
    const batchId = randomUUID();
    await api.deps.repos.batches.create(batchId, api.keyId, { type: "json", key: "relabel-order" }, {});
    const [a, b] = ["a".repeat(64), "b".repeat(64)];
    const images = [b, a, null, b, a, null];
    const ids = await api.deps.repos.posts.insertMany(
      batchId,
      images.map((sha, i) => examplePost(i, { dedupKey: `p${i}`, imageSha256: sha })),
    );
    await api.deps.repos.posts.savePredictions(
      first,
      ids.map((postId) => ({ postId, ranked: [{ hashtag: "x", score: 0.5 }] })),
    );
    await api.deps.db.pool.query("UPDATE batches SET state = 'done' WHERE id = $1", [batchId]);
    expect((await relabel(batchId)).statusCode).toBe(202);
    const jobs = (await relabelJobs()).filter((j) => (j.data as RelabelJob).batchId === batchId);
    // by image, then in seq order; posts without one last
    expect(jobs.map((j) => (j.data as RelabelJob).postIds)).toEqual([
      [ids[1], ids[4], ids[0], ids[3], ids[2], ids[5]],
    ]);
  });

  it("answers 409 batch_ingesting before the batch's ingest finished, and 404 for another key's batch", async () => {
    const batchId = randomUUID();
    await api.deps.repos.batches.create(batchId, api.keyId, { type: "json", key: "k" }, {});
    const res = await relabel(batchId);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({
      error: "batch_ingesting",
      message: `batch ${batchId} is queued: relabel it once its ingest has finished`,
    });
    const other = await api.newKey();
    const theirs = await relabel(batchId, { "x-api-key": other.key });
    expect(theirs.statusCode).toBe(404);
    expect(theirs.json()).toEqual({ error: "not_found", message: `batch ${batchId} not found` });
  });
});

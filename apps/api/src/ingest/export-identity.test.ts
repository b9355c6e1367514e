// Dedup and export identity on a real export: two posts that differ only in their timestamp stay two posts, a
// record listed twice is merged and counted, and results carry each post's timestamp, media URIs and position.

import { beforeAll, describe, expect, it } from "vitest";
import { seedModel } from "../testing/fixtures.js";
import { uploadForm, useTestApi, zipOf } from "../testing/harness.js";
import { runIngest } from "./ingest-job.js";

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64)]);
const URI = "media/posts/202401/sunset.png";
const record = (ts: number) => ({ media: [{ uri: URI, creation_timestamp: ts, title: "Sunset #Travel" }] });

function exportZip(): Promise<Buffer> {
  // the same photo posted twice an hour apart, and the first post listed again
  const posts = [record(1_700_000_000), record(1_700_003_600), record(1_700_000_000)];
  return zipOf({ "your_instagram_activity/media/posts_1.json": JSON.stringify(posts), [URI]: PNG });
}

describe("an export with two posts that differ only in timestamp", () => {
  const api = useTestApi();
  let batchId: string;
  let modelId: string;
  const get = (url: string) => api.app.inject({ method: "GET", url, headers: { "x-api-key": api.key } });

  beforeAll(async () => {
    modelId = await seedModel(api);
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      headers: { "x-api-key": api.key },
      payload: uploadForm([{ name: "export.zip", bytes: await exportZip() }]),
    });
    expect(res.statusCode).toBe(202);
    batchId = res.json().batchId;
    const deps = { ...api.deps, features: api.deps.queues.features };
    expect(await runIngest(batchId, deps)).toEqual({ posts: 2 });
    const ids = (
      await api.deps.db.pool.query<{ id: string }>("SELECT id FROM posts WHERE batch_id = $1 ORDER BY seq", [
        batchId,
      ])
    ).rows.map((r) => r.id);
    const ranked = [
      { hashtag: "travel", score: 0.75 },
      { hashtag: "food", score: 0.125 },
    ];
    await api.deps.repos.posts.savePredictions(
      modelId,
      ids.map((postId) => ({ postId, ranked })),
    );
  });

  it("keeps both posts and reports the record listed twice as one duplicate", async () => {
    const summary = (await get(`/v1/batches/${batchId}`)).json();
    expect(summary).toMatchObject({ totalPosts: 2, duplicatePosts: 1, state: "processing" });
  });

  it("gives each result its export identity (seq, takenAt, media URIs) and says which hashtags the caption has", async () => {
    const res = await get(`/v1/batches/${batchId}/results`);
    const lines = res.body
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    const hashtags = [
      { hashtag: "travel", score: 0.75, rank: 1, inCaption: true },
      { hashtag: "food", score: 0.125, rank: 2, inCaption: false },
    ];
    expect(
      lines.map(({ seq, externalId, takenAt, mediaUris, hashtags }) => ({
        seq,
        externalId,
        takenAt,
        mediaUris,
        hashtags,
      })),
    ).toEqual([
      { seq: 0, externalId: null, takenAt: "2023-11-14T22:13:20.000Z", mediaUris: [URI], hashtags },
      { seq: 1, externalId: null, takenAt: "2023-11-14T23:13:20.000Z", mediaUris: [URI], hashtags },
    ]);
    // the REST page and a post's detail say the same
    const page = (await get(`/v1/batches/${batchId}/posts`)).json();
    expect(page.posts).toEqual(lines);
    const detail = (await get(`/v1/posts/${lines[1].id}`)).json();
    expect(detail).toEqual({ ...lines[1], batchId });
  });

  it("writes the identity into every CSV row", async () => {
    const csv = (await get(`/v1/batches/${batchId}/results?format=csv`)).body.trimEnd().split("\n");
    expect(csv[0]).toBe(
      "post_id,external_id,seq,taken_at,media_uris,state,error,rank,hashtag,score,in_caption,model_version",
    );
    expect(csv.slice(1).map((row) => row.split(",").slice(1))).toEqual([
      ["", "0", "2023-11-14T22:13:20.000Z", URI, "done", "", "1", "travel", "0.75", "true", modelId],
      ["", "0", "2023-11-14T22:13:20.000Z", URI, "done", "", "2", "food", "0.125", "false", modelId],
      ["", "1", "2023-11-14T23:13:20.000Z", URI, "done", "", "1", "travel", "0.75", "true", modelId],
      ["", "1", "2023-11-14T23:13:20.000Z", URI, "done", "", "2", "food", "0.125", "false", modelId],
    ]);
  });
});

describe("an export whose posts file holds no array", () => {
  const api = useTestApi();

  it("fails the batch once with invalid-posts-file: the job completes, so nothing is retried", async () => {
    const zip = await zipOf({ "content/posts_1.json": '{"posts": "not a post list"}' });
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      headers: { "x-api-key": api.key },
      payload: uploadForm([{ name: "export.zip", bytes: zip }]),
    });
    const { batchId } = res.json();
    await expect(runIngest(batchId, { ...api.deps, features: api.deps.queues.features })).resolves.toEqual({
      posts: 0,
    });
    const batch = await api.deps.repos.batches.find(batchId);
    expect(batch?.state).toBe("failed");
    expect(batch?.error).toMatch(/^invalid-posts-file: content\/posts_1\.json: expected an array of posts/);
  });
});

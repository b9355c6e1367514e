// A batch's summary while no model serves, and a post sent back to featurization, on a database of the test's own
// (activating a model version in the shared one would change what every other process serves).
import { randomUUID } from "node:crypto";
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DEGRADED, MODEL_REFUSED, WAITING_FOR_FIRST_MODEL } from "./batches.js";
import { createDb, type Db } from "./client.js";
import { type Repositories, repositories } from "./index.js";
import type { NewPost } from "./posts.js";
import { scratchDatabase } from "./scratch-database.js";
import { examplePost } from "./testing.js";

const serverUrl = parseEnv(serviceEnvSchema, process.env).DATABASE_URL;

const newPost = (seq: number, imageKey: string | null = null): NewPost => examplePost(seq, { imageKey });

describe("batches and posts without a serving model", () => {
  let db: Db;
  let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let repos: Repositories;
  let apiKeyId: string;
  beforeAll(async () => {
    scratch = await scratchDatabase(serverUrl);
    db = createDb(scratch.url, 2);
    repos = repositories(db);
    apiKeyId = (await repos.apiKeys.create("batches-test")).id;
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  async function batchWith(posts: number): Promise<{ id: string; postIds: string[] }> {
    const id = randomUUID();
    await repos.batches.create(id, apiKeyId, { type: "json", key: "test" }, {});
    const postIds = await repos.posts.insertMany(
      id,
      Array.from({ length: posts }, (_, i) => newPost(i, `img/${i}.png`)),
    );
    await repos.batches.markIngested(id, ["1 post: media-missing"]);
    return { id, postIds };
  }
  const warnings = async (id: string) =>
    (await repos.batches.summary((await repos.batches.find(id))!)).warnings;

  it("warns that posts wait for a first model while they are predicting and no version is active", async () => {
    const { id, postIds } = await batchWith(3);
    expect(await warnings(id)).toEqual(["1 post: media-missing"]); // pending: nothing waits for a model yet
    await repos.posts.markFeaturized(postIds[0]!, "a".repeat(64));
    expect(await warnings(id)).toEqual([
      "1 post: media-missing",
      `${WAITING_FOR_FIRST_MODEL}: 1 post waits for prediction until one is activated`,
    ]);
    await repos.posts.markFeaturized(postIds[1]!, "b".repeat(64));
    expect((await warnings(id))[1]).toBe(
      "waiting for a first model: 2 posts wait for prediction until one is activated",
    );

    await db.pool.query(
      `INSERT INTO model_versions (id, architecture, bundle_prefix, detector_id, hashtags, metrics, manifest, state)
       VALUES ('m1', 'lxmert4hashtag', 'models/m1/', 'd1', 2, '{}', '{}', 'active')`,
    );
    expect(await warnings(id)).toEqual(["1 post: media-missing"]);

    // a predict worker refused the active model: it keeps the one it served before, or waits
    await repos.models.refuse("m1", "out of memory");
    expect(await warnings(id)).toEqual([
      "1 post: media-missing",
      `${MODEL_REFUSED}: a predict worker refused the active model m1 (it failed its warm-up run); of the 2 posts left to predict, those it takes go to the model it served before, or wait for another version`,
    ]);
  });

  it("sends a predicting post back to featurization once, flagged refeaturized", async () => {
    const { postIds } = await batchWith(2);
    const [post, pending] = postIds as [string, string];
    await repos.posts.markFeaturized(post, "c".repeat(64), ["caption-only"]);
    expect(await repos.posts.markRefeaturizing(pending)).toBe(false); // not featurized yet
    expect(await repos.posts.markRefeaturizing(post)).toBe(true);
    expect(await repos.posts.forFeatures(post)).toMatchObject({
      state: "featurizing",
      imageSha256: "c".repeat(64),
      flags: ["caption-only", "refeaturized"],
    });
    expect(await repos.posts.markRefeaturizing(post)).toBe(false); // it is featurizing
    await repos.posts.markFeaturized(post, "c".repeat(64));
    expect((await repos.posts.forFeatures(post))?.state).toBe("predicting");
    expect(await repos.posts.markRefeaturizing(post)).toBe(false); // only once
    expect((await repos.posts.forFeatures(post))?.flags.sort()).toEqual(["caption-only", "refeaturized"]);
  });

  it("counts the posts predicted without their image, by why, and not those that never had one", async () => {
    const { id, postIds } = await batchWith(5);
    const [missing, tooLarge, gone, whole, textOnly] = postIds as [string, string, string, string, string];
    await repos.posts.markFeaturized(missing, null, ["caption-only", "image-error:missing"]);
    await repos.posts.markFeaturized(tooLarge, null, ["caption-only", "image-error:too-large"]);
    await repos.posts.markFeaturized(gone, "d".repeat(64));
    await repos.posts.markFeaturized(whole, "e".repeat(64));
    await repos.posts.markFeaturized(textOnly, null, ["caption-only"]);
    const ranked = [{ hashtag: "sunset", score: 0.5 }];
    await repos.posts.savePredictions("m1", [
      { postId: missing, ranked },
      { postId: tooLarge, ranked },
      { postId: gone, ranked, flags: ["caption-only", "roi-missing"] },
      { postId: whole, ranked },
      { postId: textOnly, ranked },
    ]);
    expect(await warnings(id)).toEqual([
      "1 post: media-missing",
      `${DEGRADED}: 3 posts were predicted from the caption alone (1 image-error:missing, 1 image-error:too-large, 1 roi-missing)`,
    ]);
  });

  it("writes predictions for posts not failed, and says which it wrote", async () => {
    const { postIds } = await batchWith(2);
    const [kept, failed] = postIds as [string, string];
    await repos.posts.markFeaturized(kept, null);
    await repos.posts.markFeaturized(failed, null);
    await repos.posts.markFailed(failed, "predict-failed: x"); // after its job read it as predicting
    const ranked = [{ hashtag: "sunset", score: 0.5 }];
    const saved = await repos.posts.savePredictions("m1", [
      { postId: kept, ranked },
      { postId: failed, ranked },
    ]);
    expect(saved).toEqual([kept]);
    const rows = await db.pool.query("SELECT post_id FROM predictions WHERE post_id = ANY($1::uuid[])", [
      postIds,
    ]);
    expect(rows.rows.map((r) => r.post_id)).toEqual([kept]);
  });

  it("reads and fails a range of posts by seq and state, leaving posts sent back to featurization to their own jobs", async () => {
    const { id, postIds } = await batchWith(6);
    const [p0, p1, p2, p3, p4, p5] = postIds as [string, string, string, string, string, string];
    await repos.posts.markFeaturized(p1, null);
    await repos.posts.markFeaturized(p2, null);
    await repos.posts.markRefeaturizing(p2); // sent back: featurizing, flagged
    await repos.posts.markFeaturized(p3, null);
    await repos.posts.markRefeaturizing(p3);
    await repos.posts.markFeaturized(p3, null); // sent back, then featurized again: predicting, flagged
    const range = { batchId: id, fromSeq: 0, size: 5 }; // p5 (seq 5) is the next range's
    const ids = async (states: Parameters<typeof repos.posts.inRange>[1], sentBack = false) =>
      (await repos.posts.inRange(range, states, { sentBack })).map((p) => p.id);
    expect(await ids(["pending", "featurizing"])).toEqual([p0, p4]);
    expect(await ids(["predicting"])).toEqual([p1]);
    expect(await ids(["predicting"], true)).toEqual([p1, p2]);
    expect(await repos.posts.failInRange(range, ["pending", "featurizing"], "features-failed: x")).toBe(2);
    expect(await ids(["failed"])).toEqual([p0, p4]);
    expect(await ids(["pending"])).toEqual([]);
    expect((await repos.posts.inRange({ ...range, fromSeq: 5 }, ["pending"])).map((p) => p.id)).toEqual([p5]);
  });

  it.each(["pending", "featurizing", "predicting"])(
    "keeps a batch processing while one post is %s, and marks it done once that one is finished",
    async (left) => {
      const { id, postIds } = await batchWith(2);
      const [open, other] = postIds as [string, string];
      const state = async () => (await repos.batches.find(id))!.state;
      await repos.posts.markFailed(other, "invalid-image: x");
      if (left !== "pending") await repos.posts.markFeaturized(open, "d".repeat(64));
      if (left === "featurizing") expect(await repos.posts.markRefeaturizing(open)).toBe(true);
      await repos.batches.completeIfFinished([id]);
      expect(await state()).toBe("processing");
      await repos.posts.savePredictions("m1", [{ postId: open, ranked: [{ hashtag: "a", score: 0.5 }] }]);
      await repos.batches.completeIfFinished([id]);
      expect(await state()).toBe("done");
      expect((await repos.batches.find(id))!.finishedAt).toBeInstanceOf(Date);
    },
  );

  it("checks for a batch's unfinished posts without reading past its finished ones", async () => {
    // called after every micro-batch: reading past the finished posts, the check grew with the batch (8 ms a call
    // halfway through 100,000 posts). The statement sent is run again, explained, with its pages counted.
    const { id } = await batchWith(3000);
    await db.pool.query("UPDATE posts SET state = 'done' WHERE batch_id = $1 AND seq < 2999", [id]);
    await db.pool.query("VACUUM ANALYZE posts"); // as autovacuum leaves it: no row versions left from before
    const sent = vi.spyOn(db.pool, "query");
    let call: unknown[] | undefined;
    try {
      await repos.batches.completeIfFinished([id]);
      call = sent.mock.calls.at(-1);
    } finally {
      sent.mockRestore(); // which forgets the calls
    }
    const [text, values] = call as [string, unknown[]];
    expect((await repos.batches.find(id))!.state).toBe("processing"); // the post of seq 2999 is pending
    const client = await db.pool.connect();
    try {
      await client.query("BEGIN");
      const plan = await client.query<{ "QUERY PLAN": [{ Plan: Record<string, number> }] }>(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`,
        values,
      );
      const { Plan: top } = plan.rows[0]!["QUERY PLAN"][0];
      // a seek: the batch's row and a few index pages (6 here), against 73 pages past 2,999 finished posts
      expect(top["Shared Hit Blocks"]! + top["Shared Read Blocks"]!).toBeLessThan(20);
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
  });

  it("lists unfinished batches and, page by page, their unfinished posts", async () => {
    const { id, postIds } = await batchWith(5);
    const queued = randomUUID();
    await repos.batches.create(queued, apiKeyId, { type: "json", key: "test" }, {});
    await repos.posts.markFeaturized(postIds[0]!, null);
    await repos.posts.markFailed(postIds[1]!, "invalid-image: x");
    await repos.posts.savePredictions("m1", [{ postId: postIds[0]!, ranked: [] }]);
    const unfinished = await repos.batches.unfinished();
    expect(unfinished).toEqual(
      expect.arrayContaining([
        { id, state: "processing" },
        { id: queued, state: "queued" },
      ]),
    );
    const open = postIds.slice(2).sort();
    const first = await repos.batches.unfinishedPosts(id, null, 2);
    const rest = await repos.batches.unfinishedPosts(id, first.at(-1)!.id, 2);
    expect([...first, ...rest].map((p) => p.id)).toEqual(open);
    expect(rest).toHaveLength(1);
    expect(first[0]).toEqual({ id: open[0], seq: postIds.indexOf(open[0]!), state: "pending", flags: [] });
    await repos.batches.markFailed(queued, "test");
  });
});

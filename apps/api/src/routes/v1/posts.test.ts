import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { firstPostView, type SeededBatch, seedBatch, seedModel } from "../../testing/fixtures.js";
import { useTestApi } from "../../testing/harness.js";

describe("/v1/posts", () => {
  const api = useTestApi();
  let auth: { "x-api-key": string };
  let other: { "x-api-key": string };
  let seeded: SeededBatch;
  let modelId: string;
  beforeAll(async () => {
    auth = { "x-api-key": api.key };
    other = { "x-api-key": (await api.newKey()).key };
    modelId = await seedModel(api);
    seeded = await seedBatch(api.deps, api.keyId, modelId);
  });

  describe("GET /:id", () => {
    it("answers the post with its batch, labels and ranked hashtags", async () => {
      const res = await api.app.inject({
        method: "GET",
        url: `/v1/posts/${seeded.postIds[0]}`,
        headers: auth,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        id: seeded.postIds[0],
        batchId: seeded.batchId,
        ...firstPostView(modelId),
      });
    });

    it("answers 404 for an unknown post and for another key's, 400 for a malformed id", async () => {
      const unknown = randomUUID();
      const missing = await api.app.inject({ method: "GET", url: `/v1/posts/${unknown}`, headers: auth });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ error: "not_found", message: `post ${unknown} not found` });
      const theirs = await api.app.inject({
        method: "GET",
        url: `/v1/posts/${seeded.postIds[0]}`,
        headers: other,
      });
      expect(theirs.statusCode).toBe(404);
      expect(theirs.json()).toEqual({ error: "not_found", message: `post ${seeded.postIds[0]} not found` });
      const malformed = await api.app.inject({ method: "GET", url: "/v1/posts/12345", headers: auth });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json()).toEqual({ error: "bad_request", message: "id: Invalid UUID" });
    });
  });

  describe("POST /:id/labels", () => {
    const label = (id: string, payload: unknown, headers = auth) =>
      api.app.inject({ method: "POST", url: `/v1/posts/${id}/labels`, payload: payload as object, headers });

    it("normalizes hashtags like captions do (no #, NFC, lower case) and answers the updated post", async () => {
      const id = seeded.postIds[1]; // caption "Lunch #food"
      const res = await label(id, { add: ["#Beach", "E\u0301TE\u0301"], remove: ["#FOOD"] });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ id, batchId: seeded.batchId, labels: ["beach", "\u00e9t\u00e9"] });
      const rows = await api.deps.db.pool.query(
        "SELECT hashtag, positive FROM labels WHERE post_id = $1 ORDER BY hashtag",
        [id],
      );
      expect(rows.rows).toEqual([
        { hashtag: "beach", positive: true },
        { hashtag: "food", positive: false },
        { hashtag: "\u00e9t\u00e9", positive: true },
      ]);
    });

    it("stores the reviewer with each label row it writes; the post view is unchanged", async () => {
      const id = seeded.postIds[2];
      const rows = async () =>
        (
          await api.deps.db.pool.query(
            "SELECT hashtag, positive, source, reviewer FROM labels WHERE post_id = $1 ORDER BY hashtag",
            [id],
          )
        ).rows;
      const first = await label(id, { add: ["beach", "sea"], remove: ["city"], reviewer: "ana@example.com" });
      expect(first.statusCode).toBe(200);
      expect(first.json().labels).toEqual(["beach", "sea"]);
      expect(await rows()).toEqual([
        { hashtag: "beach", positive: true, source: "human", reviewer: "ana@example.com" },
        { hashtag: "city", positive: false, source: "human", reviewer: "ana@example.com" },
        { hashtag: "sea", positive: true, source: "human", reviewer: "ana@example.com" },
      ]);
      // a later correction of a hashtag replaces the row, reviewer included; one without a reviewer stores null
      await label(id, { remove: ["sea"], reviewer: "ben" });
      await label(id, { add: ["city"] });
      expect(await rows()).toEqual([
        { hashtag: "beach", positive: true, source: "human", reviewer: "ana@example.com" },
        { hashtag: "city", positive: true, source: "human", reviewer: null },
        { hashtag: "sea", positive: false, source: "human", reviewer: "ben" },
      ]);
      const view = await api.app.inject({ method: "GET", url: `/v1/posts/${id}`, headers: auth });
      expect(view.json().labels).toEqual(["beach", "city"]);
      expect(view.json()).not.toHaveProperty("reviewer");
    });

    it("refuses an empty or over-long reviewer (400) and writes nothing", async () => {
      const id = seeded.postIds[0];
      const long = await label(id, { add: ["x"], reviewer: "r".repeat(101) });
      expect(long.statusCode).toBe(400);
      expect(long.json()).toEqual({
        error: "bad_request",
        message: "reviewer: Too big: expected string to have <=100 characters",
      });
      const empty = await label(id, { add: ["x"], reviewer: "" });
      expect(empty.json()).toEqual({
        error: "bad_request",
        message: "reviewer: Too small: expected string to have >=1 characters",
      });
      const rows = await api.deps.db.pool.query("SELECT 1 FROM labels WHERE post_id = $1", [id]);
      expect(rows.rowCount).toBe(0);
    });

    it("defaults both lists to empty", async () => {
      const res = await label(seeded.postIds[0], {});
      expect(res.statusCode).toBe(200);
      expect(res.json().labels).toEqual(["travel"]);
    });

    it("refuses wrong types (400)", async () => {
      const res = await label(seeded.postIds[0], { add: "#beach" });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: "bad_request",
        message: "add: Invalid input: expected array, received string",
      });
      const empty = await label(seeded.postIds[0], { add: [""] });
      expect(empty.json()).toEqual({
        error: "bad_request",
        message: "add.0: Too small: expected string to have >=1 characters",
      });
    });

    it("answers 404 for another key's post and writes nothing", async () => {
      const id = seeded.postIds[0];
      const res = await label(id, { add: ["stolen"] }, other);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: "not_found", message: `post ${id} not found` });
      const rows = await api.deps.db.pool.query("SELECT 1 FROM labels WHERE post_id = $1", [id]);
      expect(rows.rowCount).toBe(0);
    });
  });
});

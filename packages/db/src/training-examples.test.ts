// The trainer's labeled rows, read in pages, on a database of the test's own.
import { randomUUID } from "node:crypto";
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "./client.js";
import { type Repositories, repositories } from "./index.js";
import { scratchDatabase } from "./scratch-database.js";
import { examplePost } from "./testing.js";
import { TrainingExamples } from "./training-examples.js";

const serverUrl = parseEnv(serviceEnvSchema, process.env).DATABASE_URL;

describe("training examples", () => {
  let db: Db;
  let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let repos: Repositories;
  beforeAll(async () => {
    scratch = await scratchDatabase(serverUrl);
    db = createDb(scratch.url, 2);
    repos = repositories(db);
    const apiKeyId = (await repos.apiKeys.create("training-examples-test")).id;
    const batchId = randomUUID();
    await repos.batches.create(batchId, apiKeyId, { type: "json", key: "test" }, {});
    await repos.posts.insertMany(
      batchId,
      Array.from({ length: 5 }, (_, i) => examplePost(i)),
    );
    await db.pool.query("UPDATE posts SET state = 'done' WHERE batch_id = $1", [batchId]);
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it("reads every eligible post, page after page", async () => {
    expect(await repos.trainingExamples.list({ pageSize: 2 })).toHaveLength(5);
  });

  it("stops before its next page once its signal is aborted (a training run that lost its lock)", async () => {
    const lost = new AbortController();
    let pages = 0;
    // the lock is lost while the first page is read
    const pool = {
      query: (...args: Parameters<Db["pool"]["query"]>) => {
        pages += 1;
        lost.abort(new Error("lost the training-run lock: test"));
        return db.pool.query(...args);
      },
    };
    const examples = new TrainingExamples({ ...db, pool } as unknown as Db);
    await expect(examples.list({ pageSize: 2, signal: lost.signal })).rejects.toThrow(
      "lost the training-run lock: test",
    );
    expect(pages).toBe(1);
  });
});

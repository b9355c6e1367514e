// What a worker's test harness needs besides the worker: the database, queues on a prefix of the test's own, a
// batch of the test's own with its posts, and cleaning all of that up.
import { randomUUID } from "node:crypto";
import { jobIds } from "@lxtag/contracts";
import { createDb, type Db, type Repositories, repositories } from "@lxtag/db";
import { examplePost } from "@lxtag/db/testing";
import { createQueue, type ServiceEnv } from "@lxtag/runtime";
import type { Job, Queue } from "bullmq";
import { waitForJob } from "./jobs.js";

/**
 * The environment for a service under test: this process's, on a queue prefix of its own (`<name>-<8 hex>`),
 * logging nothing; `env` overrides any of it.
 */
export function testEnv(name: string, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LXTAG_QUEUE_PREFIX: `${name}-${randomUUID().slice(0, 8)}`,
    LXTAG_LOG_LEVEL: "silent",
    ...env,
  };
}

/** The queues whose jobs are one post each. */
export type PostQueue = "features" | "predict";
export interface PostJob {
  batchId: string;
  postId: string;
}

/**
 * The base of a worker's test harness: the database of `config` and its repositories, queues under the
 * configuration's prefix (emptied and closed by `close()`), one batch with an API key of its own (deleted by
 * `close()`) and its posts, and the jobs of the queue the worker takes them from.
 */
export class WorkerHarness<C extends ServiceEnv> {
  readonly db: Db;
  readonly repos: Repositories;
  readonly batchId = randomUUID();
  /** The queue the worker under test takes its jobs from. */
  protected readonly jobs: Queue<PostJob>;
  private readonly queues: Queue[] = [];
  private batch: Promise<void> | undefined;
  private apiKeyId: string | undefined;
  private seq = 0;

  constructor(
    readonly config: C,
    private readonly consumes: PostQueue,
  ) {
    this.db = createDb(config.DATABASE_URL, 4);
    this.repos = repositories(this.db);
    this.jobs = this.queue<PostJob>(consumes);
  }

  /** A queue under this harness's prefix. */
  protected queue<T>(name: string): Queue<T> {
    const queue = createQueue<T>(name, this.config.LXTAG_REDIS_URL, this.config.LXTAG_QUEUE_PREFIX);
    this.queues.push(queue as Queue);
    return queue;
  }

  /** The batch (and the API key it belongs to), created once; `ingested`: as its ingest job would leave it. */
  protected createBatch(options: { ingested?: boolean } = {}): Promise<void> {
    this.batch ??= (async () => {
      this.apiKeyId = (await this.repos.apiKeys.create(`${this.consumes}-test-${this.batchId}`)).id;
      await this.repos.batches.create(this.batchId, this.apiKeyId, { type: "json", key: "test" }, {});
      if (options.ingested) await this.repos.batches.markIngested(this.batchId, []);
    })();
    return this.batch;
  }

  /** Inserts the batch's next post (`post-<seq>`, no media or hashtags); returns its id. */
  protected async insertPost(
    fields: { caption?: string; imageKey?: string | null; imageSha256?: string | null } = {},
  ): Promise<string> {
    const [id] = await this.repos.posts.insertMany(this.batchId, [examplePost(this.seq++, fields)]);
    return id!;
  }

  /** The post's `columns` (SQL), its flags sorted: they are stored as a set, their order means nothing. */
  protected async postRow<R extends { flags: string[] }>(postId: string, columns: string): Promise<R> {
    const r = await this.db.pool.query<R>(`SELECT ${columns} FROM posts WHERE id = $1`, [postId]);
    const row = r.rows[0]!;
    return { ...row, flags: [...row.flags].sort() };
  }

  /** Adds the posts' jobs at once (so they are in flight together), with the contracts' job ids. */
  async enqueue(...postIds: string[]): Promise<void> {
    await this.jobs.addBulk(
      postIds.map((postId) => ({
        name: this.consumes,
        data: { batchId: this.batchId, postId },
        opts: { jobId: jobIds[this.consumes](postId) },
      })),
    );
  }

  /** The post's job once it finished, either way. */
  settled(postId: string, timeoutMs = 30_000): Promise<Job> {
    return waitForJob(this.jobs, jobIds[this.consumes](postId), { timeoutMs });
  }

  /** Empties and closes the queues, deletes the batch (its posts with it) and its key, closes the database. */
  async close(): Promise<void> {
    for (const queue of this.queues) {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    }
    await this.db.pool.query("DELETE FROM batches WHERE id = $1", [this.batchId]);
    if (this.apiKeyId) await this.db.pool.query("DELETE FROM api_keys WHERE id = $1", [this.apiKeyId]);
    await this.db.close();
  }
}

// What a worker's test harness needs besides the worker: the database, queues on a prefix of the test's own, a
// batch of the test's own with its posts, and cleaning all of that up.
import { randomUUID } from "node:crypto";
import { jobIds, type PostJob, type PostRange } from "@lxtag/contracts";
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

/** The queues whose jobs carry ranges of posts. */
export type PostQueue = "features" | "predict";

/** The worker that consumes each queue: its harness's connections are named after it. */
const workerOf: Record<PostQueue, string> = { features: "feature-worker", predict: "predict-worker" };

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
  protected readonly jobs: Queue<PostRange | PostJob>;
  private readonly queues: Queue[] = [];
  private batch: Promise<void> | undefined;
  private apiKeyId: string | undefined;
  private seq = 0;
  /** Each post's `seq`, by id. */
  private readonly seqs = new Map<string, number>();

  constructor(
    readonly config: C,
    private readonly consumes: PostQueue,
  ) {
    // named as the worker's own connections would be, marked as a test's
    this.db = createDb(config.DATABASE_URL, { service: `test ${workerOf[consumes]}`, maxConnections: 4 });
    this.repos = repositories(this.db);
    this.jobs = this.queue<PostRange | PostJob>(consumes);
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
    const seq = this.seq++;
    const [id] = await this.repos.posts.insertMany(this.batchId, [examplePost(seq, fields)]);
    this.seqs.set(id!, seq);
    return id!;
  }

  /** The post's `columns` (SQL), its flags sorted: they are stored as a set, their order means nothing. */
  protected async postRow<R extends { flags: string[] }>(postId: string, columns: string): Promise<R> {
    const r = await this.db.pool.query<R>(`SELECT ${columns} FROM posts WHERE id = $1`, [postId]);
    const row = r.rows[0]!;
    return { ...row, flags: [...row.flags].sort() };
  }

  /** The range of this harness's batch that holds just this post. */
  rangeOf(postId: string): PostRange {
    const seq = this.seqs.get(postId);
    if (seq === undefined) throw new Error(`post ${postId} is not one of this harness's`);
    return { batchId: this.batchId, fromSeq: seq, size: 1 };
  }

  /**
   * Adds a job for each post at once (so they are in flight together), each a range of that one post, with the
   * contracts' job ids; `enqueueRange` adds one job for several posts.
   */
  async enqueue(...postIds: string[]): Promise<void> {
    await this.jobs.addBulk(
      postIds.map((postId) => {
        const range = this.rangeOf(postId);
        return { name: this.consumes, data: range, opts: { jobId: jobIds[this.consumes](range) } };
      }),
    );
  }

  /** Adds one job for the posts `seq` in `[fromSeq, fromSeq + size)`; resolves with its range. */
  async enqueueRange(fromSeq: number, size: number): Promise<PostRange> {
    const range = { batchId: this.batchId, fromSeq, size };
    await this.jobs.add(this.consumes, range, { jobId: jobIds[this.consumes](range) });
    return range;
  }

  /** The job of the post (as `enqueue` added it), or of a range, once it finished, either way. */
  settled(post: string | PostRange, timeoutMs = 30_000): Promise<Job> {
    const range = typeof post === "string" ? this.rangeOf(post) : post;
    return waitForJob(this.jobs, jobIds[this.consumes](range), { timeoutMs });
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

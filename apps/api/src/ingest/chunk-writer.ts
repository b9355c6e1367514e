import { type FeatureJob, jobIds, POSTS_PER_JOB, type PostRange, postRangeOf } from "@lxtag/contracts";
import type { NewPost, Repositories } from "@lxtag/db";
import { addBulkChunked } from "@lxtag/runtime";
import type { Queue } from "bullmq";

/** Chunks stored whose jobs still wait (for their images): reading stops this far ahead, whatever S3's pace. */
const CHUNKS_AHEAD = 8;

/** Post flags worth a batch-level warning. */
const WARN_FLAGS = new Set(["media-missing", "unsupported-media", "media-too-large"]);

/**
 * Stores and enqueues an ingest's posts chunk by chunk, as they are read, and records the batch's ingest progress.
 * A pipeline: while chunk n+1 is read, chunk n is written to Postgres (at most one chunk waits there, so memory
 * stays at a few chunks whatever the export's size), and stored chunks' jobs go to Redis in order, each once its
 * chunk's images are in S3 (`write`'s `stored`): reading and storing the posts that follow go on while images
 * upload, up to `CHUNKS_AHEAD` chunks ahead of the jobs.
 * Posts go to the features queue in ranges of `POSTS_PER_JOB` (by `seq`, which chunks give in order): a range's job
 * is added once all its posts are stored, so a range that a chunk ends in the middle of waits for the next chunk.
 */
export class ChunkWriter {
  /** Records handed to `write` so far (distinct or not: identical ones merge into one post). */
  records = 0;
  private total: number | null = null;
  private readonly flagged = new Map<string, number>();
  /** Ranges with a post to featurize (not failed at ingest), stored but not yet enqueued, by `fromSeq`. */
  private readonly waitingRanges = new Set<number>();
  private writing: Promise<void> = Promise.resolve();
  private enqueuing: Promise<void> = Promise.resolve();
  /** Each stored chunk's place in `enqueuing`, settled once its jobs are added (or adding them failed). */
  private readonly ahead: Promise<unknown>[] = [];
  /** Why adding jobs failed, if it did: the next `write` throws it rather than store posts no job will carry. */
  private enqueueError: unknown;
  /** Set when the batch is refused: chunks whose jobs still wait get none. */
  private abandoned = false;

  constructor(
    private readonly batchId: string,
    private readonly repos: Repositories,
    private readonly features: Queue<FeatureJob>,
  ) {}

  /** The number of records the export holds, once known. */
  async setTotal(total: number): Promise<void> {
    this.total = total;
    await this.repos.batches.recordIngestProgress(this.batchId, this.records, total);
  }

  /**
   * Hands a chunk on; returns once the previous chunk is in Postgres (so at most one chunk waits). `stored`
   * settles once the chunk's images are in S3: its jobs wait for it, and a rejection fails the ingest.
   */
  async write(posts: NewPost[], stored: Promise<unknown> = Promise.resolve()): Promise<void> {
    stored.catch(() => {}); // handled where the chunk's jobs wait for it, or moot once the ingest failed
    await this.writing;
    while (this.ahead.length >= CHUNKS_AHEAD) await this.ahead.shift();
    if (this.enqueueError) throw this.enqueueError;
    for (const p of posts)
      for (const f of p.flags) if (WARN_FLAGS.has(f)) this.flagged.set(f, (this.flagged.get(f) ?? 0) + 1);
    this.records += posts.length;
    this.writing = this.store(posts, this.records, stored);
    this.writing.catch(() => {}); // handled: the next `await this.writing` rethrows
  }

  /** The batch is refused (its export is broken further on): no more jobs are added for it. */
  abandon(): void {
    this.abandoned = true;
  }

  /** Waits for every chunk to be stored and enqueued; returns the batch's warnings. */
  async finish(): Promise<string[]> {
    await this.writing;
    this.enqueue(this.completeRanges(Number.POSITIVE_INFINITY));
    await this.enqueuing;
    // the batch says what it could not see, e.g. media that sit in a zip part that was not uploaded
    return [...this.flagged].map(([flag, n]) => `${n} post${n === 1 ? "" : "s"}: ${flag}`);
  }

  private async store(posts: NewPost[], recordsSoFar: number, stored: Promise<unknown>): Promise<void> {
    await this.repos.posts.insertMany(this.batchId, posts);
    for (const p of posts) if (!p.failReason) this.waitingRanges.add(p.seq - (p.seq % POSTS_PER_JOB));
    // every seq below the chunk's last is stored (chunks come in seq order): ranges that end there are complete
    const storedBelow = posts.length ? Math.max(...posts.map((p) => p.seq)) + 1 : 0;
    this.enqueue(this.completeRanges(storedBelow), recordsSoFar, stored);
  }

  /** Takes the waiting ranges that end at or below `storedBelow` (all of them at infinity). */
  private completeRanges(storedBelow: number): PostRange[] {
    const ranges: PostRange[] = [];
    for (const fromSeq of this.waitingRanges)
      if (fromSeq + POSTS_PER_JOB <= storedBelow) {
        this.waitingRanges.delete(fromSeq);
        ranges.push(postRangeOf(this.batchId, fromSeq));
      }
    return ranges;
  }

  /**
   * Adds the ranges' jobs after the previous chunk's and once `stored` settles (their images are in S3), then
   * records `recordsSoFar` as read, if given.
   */
  private enqueue(
    ranges: PostRange[],
    recordsSoFar?: number,
    stored: Promise<unknown> = Promise.resolve(),
  ): void {
    this.enqueuing = this.enqueuing
      .then(() => stored)
      .then(async () => {
        if (this.abandoned) return; // the batch was refused meanwhile
        await addBulkChunked(
          this.features,
          ranges.map((range) => ({ name: "features", data: range, opts: { jobId: jobIds.features(range) } })),
        );
        if (recordsSoFar !== undefined)
          await this.repos.batches.recordIngestProgress(this.batchId, recordsSoFar, this.total);
      });
    // handled: `finish` awaits the chain and rethrows, and the next `write` throws it
    this.ahead.push(
      this.enqueuing.catch((err: unknown) => {
        this.enqueueError ??= err;
      }),
    );
  }
}

import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import type { Multipart } from "@fastify/multipart";
import {
  type AcceptedBatch,
  type BatchesPage,
  type BatchOptions,
  type BatchSource,
  type BatchSummary,
  batchOptionsSchema,
  type IngestJob,
  jobIds,
  type ListBatchesQuery,
  type ListPostsQuery,
  type PostsPage,
} from "@lxtag/contracts";
import type { LabelRow, PostResult, Repositories } from "@lxtag/db";
import type { Logger } from "@lxtag/runtime";
import { ObjectNotFoundError, type ObjectStore } from "@lxtag/storage";
import type { Queue } from "bullmq";
import { ForeignObjectError, NotFoundError, QueueUnavailableError, UploadAbandonedError } from "../errors.js";
import { type JsonBodyRequest, type ReceivedJsonBody, receiveJsonBody } from "./json-body.js";
import { foreignKeyReason, POSTS_JSON, uploadKey } from "./upload-keys.js";
import type { UploadSpool } from "./upload-spool.js";
import { receiveUpload } from "./uploads.js";

/** What a 503 asks the client to wait: about a Redis restart or failover. */
export const QUEUE_RETRY_AFTER_S = 10;
/** How long a queue still connecting (the API started while Redis was down) may take before an upload is refused. */
const QUEUE_CONNECT_MS = 2_000;

type Batch = NonNullable<Awaited<ReturnType<Repositories["batches"]["findForKey"]>>>;

export interface BatchServiceDeps {
  repos: Repositories;
  store: ObjectStore;
  /** Where uploads are written before they go to S3 (the ingest job on this host reads them there). */
  spool: UploadSpool;
  ingest: Queue<IngestJob>;
  /** Largest file part of a multipart upload, bytes (the multipart plugin's `fileSize` limit). */
  maxPartBytes: number;
  /** How long an upload may stream before the reconciler gives it up (LXTAG_UPLOAD_ABANDONED_AFTER_S). */
  uploadAbandonedAfterS: number;
  log: Logger;
}

/** Creating batches (row + ingest job) from their three sources, and reading them back for their key. */
export class BatchService {
  constructor(private readonly deps: BatchServiceDeps) {}

  /**
   * A multipart upload. The queue is asked first, so an upload is not streamed into S3 while Redis is down only to
   * be refused after. The batch is created (`uploading`) before the first part is written, so parts of an upload
   * that never finishes (this process killed mid-stream) belong to a batch the reconciler finds and cleans up; an
   * upload refused here (bad options, a part too large, the client gone) removes its parts and its batch at once.
   */
  async fromUpload(apiKeyId: string, parts: AsyncIterable<Multipart>): Promise<AcceptedBatch> {
    await this.queueReachable();
    const batchId = randomUUID();
    await this.deps.repos.batches.createUploading(batchId, apiKeyId);
    let keys: string[] = []; // receiveUpload deletes its parts itself when it fails
    let finished: boolean;
    try {
      const upload = await receiveUpload(this.deps.store, { apiKeyId, batchId }, parts, this.deps);
      keys = upload.keys;
      finished = await this.deps.repos.batches.finishUpload(batchId, upload.source, upload.options);
    } catch (err) {
      await this.discard(batchId, true, keys);
      throw err;
    }
    if (!finished) {
      // the reconciler gave the upload up while it streamed: its batch is failed, and what it wrote goes too
      await this.discard(batchId, false, keys);
      throw new UploadAbandonedError(batchId, this.deps.uploadAbandonedAfterS);
    }
    return this.enqueue(batchId, keys);
  }

  /**
   * A JSON body, received as it arrives (`receiveJsonBody`: never held whole): inline posts (stored as one S3
   * object for the ingest job, from the local copy it can read) or zip parts already in S3, which must be the key's
   * own (under `uploads/<apiKeyId>/`): every entry is checked before any is looked up.
   */
  async fromJson(apiKeyId: string, payload: Readable, request: JsonBodyRequest): Promise<AcceptedBatch> {
    await this.queueReachable();
    const batchId = randomUUID();
    const key = uploadKey(apiKeyId, batchId, POSTS_JSON);
    const { spool, store } = this.deps;
    let body: ReceivedJsonBody;
    const written: string[] = [];
    try {
      body = await receiveJsonBody(spool, batchId, payload, request);
      if (body.file) {
        written.push(key); // before the PUT: stored even if its answer is lost
        await store.putFile(key, body.file, "application/json");
        await spool.seal(batchId, [{ key, file: body.file }]);
      } else await spool.remove(batchId);
    } catch (err) {
      // no batch row names what was written, so it goes now
      await this.discard(batchId, false, written);
      throw err;
    }
    const options = body.options ?? batchOptionsSchema.parse({});
    if (body.file) return this.accept(batchId, apiKeyId, { type: "json", key }, options, [key]);
    for (const s3Key of body.s3Keys) {
      const reason = foreignKeyReason(apiKeyId, s3Key);
      if (reason) throw new ForeignObjectError(s3Key, reason);
    }
    for (const s3Key of body.s3Keys) if (!(await store.exists(s3Key))) throw new ObjectNotFoundError(s3Key);
    // the caller's own objects: a refused batch leaves them where they were
    return this.accept(batchId, apiKeyId, { type: "zip", keys: body.s3Keys }, options, []);
  }

  /**
   * Answers 503 at once unless the queue's Redis connection is up (a lost connection shows at once as
   * reconnecting); a connection that breaks later fails the job's `add`, which `accept` answers the same way.
   */
  private async queueReachable(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`not connected within ${QUEUE_CONNECT_MS} ms`)),
        QUEUE_CONNECT_MS,
      );
    });
    try {
      const client = await Promise.race([this.deps.ingest.client, timeout]);
      if (client.status !== "ready") throw new Error(`queue connection is ${client.status}`);
    } catch (err) {
      throw new QueueUnavailableError(QUEUE_RETRY_AFTER_S, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Creates the batch row, then its ingest job (`enqueue`). When the row cannot be created, what the request wrote
   * (`written`, its uploads) is removed.
   */
  private async accept(
    batchId: string,
    apiKeyId: string,
    source: BatchSource,
    options: BatchOptions,
    written: string[],
  ): Promise<AcceptedBatch> {
    try {
      await this.deps.repos.batches.create(batchId, apiKeyId, source, options);
    } catch (err) {
      await this.discard(batchId, false, written);
      throw err;
    }
    return this.enqueue(batchId, written);
  }

  /**
   * Adds the `queued` batch's ingest job. When the queue refuses it, the batch and what the request wrote are
   * removed, so no batch waits `queued` for a job that does not exist, and the answer is 503 with Retry-After.
   */
  private async enqueue(batchId: string, written: string[]): Promise<AcceptedBatch> {
    try {
      await this.deps.ingest.add("ingest", { batchId }, { jobId: jobIds.ingest(batchId) });
    } catch (err) {
      await this.discard(batchId, true, written);
      throw new QueueUnavailableError(QUEUE_RETRY_AFTER_S, { cause: err });
    }
    return { batchId, state: "queued", links: { self: `/v1/batches/${batchId}` } };
  }

  /** Best effort: what cannot be removed is logged with its ids (the request's own error is what the client needs). */
  private async discard(batchId: string, created: boolean, keys: string[]): Promise<void> {
    const results = await Promise.allSettled([
      this.deps.spool.remove(batchId),
      created ? this.deps.repos.batches.delete(batchId) : Promise.resolve(),
      keys.length ? this.deps.store.delete(keys) : Promise.resolve(),
    ]);
    const failed = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error).message] : []));
    if (failed.length)
      this.deps.log.error({ batchId, keys, errors: failed }, "refused batch: could not remove what it wrote");
  }

  /** The key's batch; another key's batch is as missing as an unknown one. */
  async find(id: string, apiKeyId: string): Promise<Batch> {
    const batch = await this.deps.repos.batches.findForKey(id, apiKeyId);
    if (!batch) throw new NotFoundError("batch", id);
    return batch;
  }

  async summary(id: string, apiKeyId: string): Promise<BatchSummary> {
    return this.deps.repos.batches.summary(await this.find(id, apiKeyId));
  }

  async page(id: string, apiKeyId: string, query: ListPostsQuery): Promise<PostsPage> {
    const batch = await this.find(id, apiKeyId);
    const page = await this.deps.repos.results.page(batch.id, query);
    return page;
  }

  /** A page of the key's batches, newest first, each as its summary. */
  async list(apiKeyId: string, query: ListBatchesQuery): Promise<BatchesPage> {
    const rows = await this.deps.repos.batches.listForKey(apiKeyId, query);
    const batches = await Promise.all(rows.map((b) => this.deps.repos.batches.summary(b)));
    return { batches, nextCursor: rows.length === query.limit ? rows.at(-1)!.id : null };
  }

  /** The batch's human corrections, page by page (the labels export). */
  async labels(id: string, apiKeyId: string): Promise<AsyncIterable<LabelRow>> {
    const batch = await this.find(id, apiKeyId);
    return this.deps.repos.labels.forBatch(batch.id);
  }

  /** Every post of the batch, page by page. */
  async results(id: string, apiKeyId: string): Promise<AsyncIterable<PostResult>> {
    const batch = await this.find(id, apiKeyId);
    return this.deps.repos.results.all(batch.id);
  }
}

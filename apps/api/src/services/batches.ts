import { randomUUID } from "node:crypto";
import type { Multipart } from "@fastify/multipart";
import {
  type AcceptedBatch,
  type BatchOptions,
  type BatchSource,
  type BatchSummary,
  batchOptionsSchema,
  type CreateBatchBody,
  type IngestJob,
  jobIds,
  type ListPostsQuery,
  type PostsPage,
} from "@lxtag/contracts";
import type { PostResult, Repositories } from "@lxtag/db";
import type { Logger } from "@lxtag/runtime";
import { ObjectNotFoundError, type ObjectStore } from "@lxtag/storage";
import type { Queue } from "bullmq";
import { ForeignObjectError, NotFoundError } from "../errors.js";
import { foreignKeyReason, uploadKey } from "./upload-keys.js";
import { receiveUpload } from "./uploads.js";

type Batch = NonNullable<Awaited<ReturnType<Repositories["batches"]["findForKey"]>>>;

export interface BatchServiceDeps {
  repos: Repositories;
  store: ObjectStore;
  ingest: Queue<IngestJob>;
  /** Largest zip part of a multipart upload, bytes (the multipart plugin's `fileSize` limit). */
  maxPartBytes: number;
  log: Logger;
}

/** Creating batches (row + ingest job) from their three sources, and reading them back for their key. */
export class BatchService {
  constructor(private readonly deps: BatchServiceDeps) {}

  /** A multipart upload: zip parts stream to S3 under the key's prefix first, then the batch is created. */
  async fromUpload(apiKeyId: string, parts: AsyncIterable<Multipart>): Promise<AcceptedBatch> {
    const batchId = randomUUID();
    const { keys, options } = await receiveUpload(this.deps.store, { apiKeyId, batchId }, parts, this.deps);
    return this.accept(batchId, apiKeyId, { type: "zip", keys }, options);
  }

  /**
   * A JSON body: inline posts (stored as one S3 object for the ingest job) or zip parts already in S3, which must
   * be the key's own (under `uploads/<apiKeyId>/`): every entry is checked before any is looked up.
   */
  async fromJson(apiKeyId: string, body: CreateBatchBody): Promise<AcceptedBatch> {
    const batchId = randomUUID();
    const options = body.options ?? batchOptionsSchema.parse({});
    if ("posts" in body) {
      const key = uploadKey(apiKeyId, batchId, "posts.json");
      await this.deps.store.put(key, JSON.stringify(body.posts), "application/json");
      return this.accept(batchId, apiKeyId, { type: "json", key }, options);
    }
    for (const key of body.s3Keys) {
      const reason = foreignKeyReason(apiKeyId, key);
      if (reason) throw new ForeignObjectError(key, reason);
    }
    for (const key of body.s3Keys)
      if (!(await this.deps.store.exists(key))) throw new ObjectNotFoundError(key);
    return this.accept(batchId, apiKeyId, { type: "zip", keys: body.s3Keys }, options);
  }

  private async accept(
    batchId: string,
    apiKeyId: string,
    source: BatchSource,
    options: BatchOptions,
  ): Promise<AcceptedBatch> {
    await this.deps.repos.batches.create(batchId, apiKeyId, source, options);
    await this.deps.ingest.add("ingest", { batchId }, { jobId: jobIds.ingest(batchId) });
    return { batchId, state: "queued", links: { self: `/v1/batches/${batchId}` } };
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

  /** Every post of the batch, page by page. */
  async results(id: string, apiKeyId: string): Promise<AsyncIterable<PostResult>> {
    const batch = await this.find(id, apiKeyId);
    return this.deps.repos.results.all(batch.id);
  }
}

import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import {
  type BatchOptions,
  type BatchSource,
  batchOptionsSchema,
  createBatchBodySchema,
  jobIds,
  listPostsQuerySchema,
} from "@lxtag/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { ApiDeps } from "../deps.js";
import { badRequest, notFound } from "../errors.js";
import { toCsv } from "./csv.js";
import { doc } from "./docs.js";

const resultsQuerySchema = z.object({ format: z.enum(["ndjson", "csv"]).optional() });

const uploadKey = (batchId: string, name: string) => `uploads/${batchId}/${name}`;

export function batchRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { repos, store, queues } = deps;

  const ownBatch = async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const id = req.params.id;
    const batch = /^[0-9a-f-]{36}$/i.test(id) ? await repos.batches.findForKey(id, req.apiKeyId) : null;
    if (!batch) throw notFound("batch", id);
    return batch;
  };

  app.post(
    "/v1/batches",
    doc("batches", "Create a batch", {
      description:
        "An Instagram export as one or more zip parts (multipart/form-data, fields `file` and optional `options`), " +
        "or JSON: `{posts: [...]}` or `{s3Keys: [...]}`. Answers 202 with the batch id; an ingest job does the parsing.",
      consumes: ["multipart/form-data", "application/json"],
      body: createBatchBodySchema,
    }),
    async (req, reply) => {
      const batchId = randomUUID();
      let source: BatchSource;
      let options: BatchOptions = batchOptionsSchema.parse({});
      if (req.isMultipart()) {
        // zip parts stream straight to S3; nothing is buffered whole
        const keys: string[] = [];
        for await (const part of req.parts()) {
          if (part.type === "file") {
            const key = uploadKey(batchId, `part-${keys.length + 1}.zip`);
            await store.putStream(key, part.file, "application/zip");
            if (part.file.truncated)
              throw badRequest(
                `upload part ${part.filename} exceeds ${deps.config.LXTAG_UPLOAD_MAX_BYTES} bytes`,
              );
            keys.push(key);
          } else if (part.fieldname === "options") {
            const parsed = batchOptionsSchema.safeParse(JSON.parse(String(part.value)));
            if (!parsed.success)
              throw badRequest(`options: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
            options = parsed.data;
          }
        }
        if (!keys.length) throw badRequest("multipart upload without any file part");
        source = { type: "zip", keys };
      } else {
        const parsed = createBatchBodySchema.safeParse(req.body);
        if (!parsed.success)
          throw badRequest(
            `body must be {posts: [...]} or {s3Keys: [...]}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
          );
        const body = parsed.data;
        options = batchOptionsSchema.parse(body.options ?? {});
        if ("posts" in body) {
          const key = uploadKey(batchId, "posts.json");
          await store.put(key, JSON.stringify(body.posts), "application/json");
          source = { type: "json", key };
        } else {
          for (const key of body.s3Keys)
            if (!(await store.exists(key))) throw badRequest(`no object ${key} in bucket ${store.bucket}`);
          source = { type: "zip", keys: body.s3Keys };
        }
      }
      await repos.batches.create(batchId, req.apiKeyId, source, options);
      await queues.ingest.add("ingest", { batchId }, { jobId: jobIds.ingest(batchId) });
      return reply.code(202).send({ batchId, state: "queued", links: { self: `/v1/batches/${batchId}` } });
    },
  );

  app.get<{ Params: { id: string } }>(
    "/v1/batches/:id",
    doc("batches", "Batch state, counts, progress, timings, errors"),
    async (req) => repos.batches.summary(await ownBatch(req)),
  );

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    "/v1/batches/:id/posts",
    doc("batches", "A page of the batch's posts, optionally in one state", {
      querystring: listPostsQuerySchema,
    }),
    async (req) => {
      const batch = await ownBatch(req);
      const q = listPostsQuerySchema.safeParse(req.query);
      if (!q.success)
        throw badRequest(q.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
      return repos.results.page(batch.id, q.data);
    },
  );

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    "/v1/batches/:id/results",
    doc("batches", "Every post with its ranked hashtags, streamed", {
      querystring: resultsQuerySchema,
      description: "NDJSON (one post per line) by default; CSV with `format=csv` or `Accept: text/csv`.",
    }),
    async (req, reply) => {
      const batch = await ownBatch(req);
      const q = resultsQuerySchema.safeParse(req.query);
      if (!q.success) throw badRequest(`format must be ndjson or csv, not ${req.query.format}`);
      const format = q.data.format ?? (String(req.headers.accept).includes("text/csv") ? "csv" : "ndjson");
      const rows = repos.results.all(batch.id);
      async function* body() {
        if (format === "csv") yield "post_id,external_id,state,error,rank,hashtag,score,model_version\n";
        for await (const post of rows) yield format === "csv" ? toCsv(post) : `${JSON.stringify(post)}\n`;
      }
      reply.header("content-type", format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson");
      return reply.send(Readable.from(body()));
    },
  );
}

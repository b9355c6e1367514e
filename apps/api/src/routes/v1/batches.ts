import multipart from "@fastify/multipart";
import {
  acceptedBatchSchema,
  batchSummarySchema,
  createBatchBodySchema,
  createBatchUploadSchema,
  errorBodySchema,
  listPostsQuerySchema,
  postResultSchema,
  postsPageSchema,
  relabelAcceptedSchema,
  resultsQuerySchema,
} from "@lxtag/contracts";
import { z } from "zod";
import { MissingUploadError } from "../../errors.js";
import { errorResponses } from "../../http/responses.js";
import type { ApiPlugin } from "../../http/types.js";
import type { BatchService } from "../../services/batches.js";
import type { RelabelService } from "../../services/relabel.js";
import { CSV_HEADER } from "../../services/results-csv.js";
import { RESULT_CONTENT_TYPES, resultFormat, resultsStream } from "../../services/results-stream.js";

export interface BatchRoutesOptions {
  batches: BatchService;
  relabel: RelabelService;
  /** Largest zip part, bytes. */
  maxPartBytes: number;
  /** Largest JSON body, bytes (LXTAG_API_BODY_LIMIT). */
  maxJsonBytes: number;
}

const params = z.object({ id: z.uuid() });

/** Not the admin routes' 403 (`errorResponses`): here a plain key is refused an object, not the route. */
const forbiddenObject = {
  description: "An `s3Keys` entry outside the key's own uploads, `uploads/<apiKeyId>/` (`forbidden_object`)",
  content: { "application/json": { schema: errorBodySchema } },
};

/**
 * POST /v1/batches, in a scope of its own: multipart parsing exists here only (uploads are accepted here and nowhere
 * else), and this route takes exactly the two content types it documents (anything else answers 415), both
 * streamed: a JSON body is handed on unread, as the payload stream, and written to disk as it arrives
 * (`receiveJsonBody`). The batch's other routes keep the app's parsers (a stray body is parsed within 1 MiB).
 */
const createBatchRoute: ApiPlugin<Omit<BatchRoutesOptions, "relabel">> = async (
  app,
  { batches, maxPartBytes, maxJsonBytes },
) => {
  await app.register(multipart, { limits: { fileSize: maxPartBytes, files: 64, fields: 8 } });
  app.removeContentTypeParser(["text/plain", "application/json"]);
  app.addContentTypeParser("application/json", (_req, payload, done) => done(null, payload));

  app.post(
    "", // the prefix itself, without a trailing slash
    {
      schema: {
        tags: ["batches"],
        summary: "Create a batch",
        description:
          "An Instagram export as one or more zip parts (multipart/form-data: `file`, repeated, and optional " +
          "`options` as JSON text), or JSON: `{posts: [...]}` or `{s3Keys: [...]}`, streamed to disk as it " +
          "arrives. Posts too many for a JSON body (LXTAG_API_BODY_LIMIT, 413 past it; 100,000 posts) go as one " +
          "JSON file in the multipart form instead, streamed like zip parts (400 `mixed_upload` beside zip parts " +
          "or another JSON file). Answers 202 with the batch " +
          "id; an ingest job does the parsing. Uploads are stored under the key's own prefix " +
          "`uploads/<apiKeyId>/`; `s3Keys`, and posts' images given as S3 keys, must lie under it (an image may " +
          "also be an https URL). A refused `s3Keys` entry answers 403 `forbidden_object`, naming the prefix; " +
          "a refused image fails its post alone (`invalid-image`). A multipart upload's batch exists (state " +
          "`uploading`) from its first byte; an upload still streaming after LXTAG_UPLOAD_ABANDONED_AFTER_S " +
          "is given up by the reconciler and answers 409 `upload_abandoned`.",
        body: {
          content: {
            "multipart/form-data": { schema: createBatchUploadSchema },
            "application/json": { schema: createBatchBodySchema },
          },
        },
        response: {
          202: acceptedBatchSchema,
          ...errorResponses(400, 409, 413, 415, 503),
          403: forbiddenObject,
        },
      },
    },
    async (req, reply) => {
      if (req.isMultipart())
        return reply.code(202).send(await batches.fromUpload(req.apiKey.id, req.parts()));
      if (!req.body) throw new MissingUploadError("send zip parts as multipart/form-data, or a JSON body");
      const declaredBytes = Number(req.headers["content-length"] ?? 0);
      return reply.code(202).send(
        await batches.fromJson(req.apiKey.id, req.body, {
          maxBytes: maxJsonBytes,
          declaredBytes,
          response: reply.raw,
        }),
      );
    },
  );
};

/** /v1/batches: create a batch, then follow it and read its results. */
export const batchRoutes: ApiPlugin<BatchRoutesOptions> = async (
  app,
  { batches, relabel, maxPartBytes, maxJsonBytes },
) => {
  await app.register(createBatchRoute, { batches, maxPartBytes, maxJsonBytes });

  app.get(
    "/:id",
    {
      schema: {
        tags: ["batches"],
        summary: "Batch state, counts, progress, timings, errors",
        params,
        response: { 200: batchSummarySchema, ...errorResponses(400, 404) },
      },
    },
    async (req) => batches.summary(req.params.id, req.apiKey.id),
  );

  app.post(
    "/:id/relabel",
    {
      schema: {
        tags: ["batches"],
        summary: "Re-predict the batch's posts with the active model",
        description:
          "Queues every finished post whose newest predictions are another model's, from the RoI features its " +
          "image already has (the detector does not run). Earlier predictions stay until the new ones are " +
          "written; results then show the newest (`modelVersion`) and the one they replaced " +
          "(`previousModelVersion`). 409 `batch_ingesting` while the batch is queued or ingesting, 409 " +
          "`no_active_model` when no model is active.",
        params,
        response: { 202: relabelAcceptedSchema, ...errorResponses(400, 404, 409, 503) },
      },
    },
    async (req, reply) =>
      reply.code(202).send(await relabel.relabel(await batches.find(req.params.id, req.apiKey.id))),
  );

  app.get(
    "/:id/posts",
    {
      schema: {
        tags: ["batches"],
        summary: "A page of the batch's posts, optionally in one state",
        params,
        querystring: listPostsQuerySchema,
        response: { 200: postsPageSchema, ...errorResponses(400, 404) },
      },
    },
    async (req) => batches.page(req.params.id, req.apiKey.id, req.query),
  );

  app.get(
    "/:id/results",
    {
      schema: {
        tags: ["batches"],
        summary: "Every post with its ranked hashtags, streamed",
        description:
          "NDJSON (one PostResult per line) by default; CSV with `format=csv` or `Accept: text/csv`.",
        params,
        querystring: resultsQuerySchema,
        response: {
          200: {
            description: "The batch's posts in `seq` order",
            content: {
              [RESULT_CONTENT_TYPES.ndjson]: { schema: postResultSchema.describe("one line per post") },
              "text/csv": {
                schema: z.string().describe(CSV_HEADER.trim()),
              },
            },
          },
          ...errorResponses(400, 404),
        },
      },
    },
    async (req, reply) => {
      const format = resultFormat(req.query.format, req.headers.accept);
      const posts = await batches.results(req.params.id, req.apiKey.id);
      // a stream is sent as it is, never serialized: the response schema documents its lines, not its type
      const body = resultsStream(posts, format) as never;
      return reply.header("content-type", RESULT_CONTENT_TYPES[format]).send(body);
    },
  );
};

import { beforeAll, describe, expect, it } from "vitest";
import { useTestApi } from "../testing/harness.js";

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  security?: unknown;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

const OPERATIONS = [
  "GET /healthz",
  "GET /readyz",
  "GET /queues",
  "GET /metrics",
  "POST /v1/batches",
  "GET /v1/batches",
  "GET /v1/batches/{id}",
  "POST /v1/batches/{id}/relabel",
  "GET /v1/batches/{id}/posts",
  "GET /v1/batches/{id}/results",
  "GET /v1/batches/{id}/labels",
  "GET /v1/posts/{id}",
  "POST /v1/posts/{id}/labels",
  "GET /v1/posts/{id}/thumbnail",
  "GET /v1/models",
  "GET /v1/models/{id}",
  "POST /v1/models/{id}/activate",
  "GET /v1/training-runs",
  "POST /v1/training-runs",
  "GET /v1/training-runs/{id}",
  "GET /v1/vocabulary",
];
const ADMIN_OPERATIONS = [
  "POST /v1/models/{id}/activate",
  "GET /v1/training-runs",
  "POST /v1/training-runs",
  "GET /v1/training-runs/{id}",
  "GET /queues",
  "GET /metrics",
];

describe("GET /docs/json", () => {
  const api = useTestApi();
  let doc: Document;
  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, op })),
    );
  beforeAll(async () => {
    const res = await api.app.inject({ method: "GET", url: "/docs/json" });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });

  it("documents every route once, without trailing-slash twins", () => {
    expect(doc.openapi).toMatch(/^3\.0\./);
    expect(operations().map((o) => o.name)).toEqual(OPERATIONS);
  });

  it("declares a response schema for every status of every route, 500 included", () => {
    for (const { name, op } of operations()) {
      expect(Object.keys(op.responses), name).toContain("500");
      for (const [status, response] of Object.entries(op.responses)) {
        const media = Object.values(response.content ?? {});
        expect(media.length, `${name} ${status}`).toBeGreaterThan(0);
        // an empty schema is what a client generator turns into `unknown`
        for (const m of media) expect(Object.keys(m.schema).length, `${name} ${status}`).toBeGreaterThan(0);
      }
    }
  });

  it("marks /v1 routes, /queues and /metrics as needing a key, with their 401, and no others", () => {
    for (const { name, path, op } of operations()) {
      const keyed = path.startsWith("/v1/") || name === "GET /metrics" || name === "GET /queues";
      expect(op.security, name).toEqual(keyed ? [{ apiKey: [] }, { bearer: [] }] : undefined);
      expect(Object.keys(op.responses).includes("401"), name).toBe(keyed);
    }
  });

  it("declares 403 on the admin routes and on POST /v1/batches (another key's s3Keys), and on no others", () => {
    for (const { name, op } of operations())
      expect(Object.keys(op.responses).includes("403"), name).toBe(
        ADMIN_OPERATIONS.includes(name) || name === "POST /v1/batches",
      );
  });

  it("declares the model routes' responses", () => {
    const detail = doc.paths["/v1/models/{id}"]!.get!;
    expect(Object.keys(detail.responses).sort()).toEqual(["200", "400", "401", "404", "429", "500"]);
    expect(detail.responses["200"]!.content!["application/json"]!.schema).toMatchObject({
      properties: {
        hashtags: { type: "integer" },
        hashtagNames: { type: "array", items: { type: "string" } },
        dataset: { type: "object" },
        activatedAt: { type: "string", format: "date-time", nullable: true },
      },
    });
    const activate = doc.paths["/v1/models/{id}/activate"]!.post!;
    expect(Object.keys(activate.responses).sort()).toEqual([
      "200",
      "400",
      "401",
      "403",
      "404",
      "409",
      "429",
      "500",
    ]);
    expect(activate.responses["200"]).toEqual(detail.responses["200"]);
  });

  it("declares the training-run routes' responses", () => {
    const runs = doc.paths["/v1/training-runs"]!;
    expect(Object.keys(runs.get!.responses).sort()).toEqual(["200", "400", "401", "403", "429", "500"]);
    expect(runs.get!.responses["200"]!.content!["application/json"]!.schema).toMatchObject({
      required: ["runs", "nextCursor"],
      properties: { runs: { items: { properties: { decision: { nullable: true, type: "object" } } } } },
    });
    expect(Object.keys(runs.post!.responses).sort()).toEqual(["202", "400", "401", "403", "429", "500"]);
    expect(runs.post!.responses["202"]!.content!["application/json"]!.schema).toMatchObject({
      required: ["runId", "state", "links"],
    });
    expect(runs.post!.requestBody!.content["application/json"]!.schema).toMatchObject({
      properties: { force: { type: "boolean", default: false } },
      additionalProperties: false,
    });
    const one = doc.paths["/v1/training-runs/{id}"]!.get!;
    expect(Object.keys(one.responses).sort()).toEqual(["200", "400", "401", "403", "404", "429", "500"]);
    const detail = one.responses["200"]!.content!["application/json"]!.schema;
    expect(detail).toMatchObject({
      properties: {
        filterReport: { nullable: true, type: "object" },
        metrics: { properties: { evaluation: { properties: { candidate: { type: "object" } } } } },
        decision: { nullable: true, anyOf: [{ required: expect.arrayContaining(["promote"]) }, {}] },
        timings: { type: "object" },
        log: { type: "string", nullable: true },
        finishedAt: { type: "string", format: "date-time", nullable: true },
      },
    });
  });

  it("documents the labels' optional reviewer", () => {
    const body = doc.paths["/v1/posts/{id}/labels"]!.post!.requestBody!.content["application/json"]!.schema;
    expect(body).toMatchObject({
      properties: { reviewer: { type: "string", minLength: 1, maxLength: 100 } },
    });
    expect(body.required ?? []).not.toContain("reviewer");
  });

  it("says POST /v1/batches answers 202, and takes a multipart upload or JSON", () => {
    const op = doc.paths["/v1/batches"]!.post!;
    expect(Object.keys(op.responses).sort()).toEqual([
      "202",
      "400",
      "401",
      "403",
      "409",
      "413",
      "415",
      "429",
      "500",
      "503",
    ]);
    expect(op.responses["202"]!.content!["application/json"]!.schema).toMatchObject({
      required: ["batchId", "state", "links"],
    });
    const body = op.requestBody!.content;
    expect(Object.keys(body).sort()).toEqual(["application/json", "multipart/form-data"]);
    expect(body["multipart/form-data"]!.schema).toMatchObject({
      type: "object",
      properties: {
        file: { type: "array", items: { type: "string", format: "binary" } },
        options: { type: "string" },
      },
      required: ["file"],
    });
    expect(body["application/json"]!.schema).toMatchObject({
      anyOf: [{ required: ["posts"] }, { required: ["s3Keys"] }],
    });
  });

  it("documents timestamps as date-time strings", () => {
    const summary =
      doc.paths["/v1/batches/{id}"]!.get!.responses["200"]!.content!["application/json"]!.schema;
    expect(summary).toMatchObject({
      properties: {
        createdAt: { type: "string", format: "date-time" },
        finishedAt: { type: "string", format: "date-time", nullable: true },
      },
    });
  });

  it("documents the results in both formats", () => {
    const content = doc.paths["/v1/batches/{id}/results"]!.get!.responses["200"]!.content!;
    expect(Object.keys(content).sort()).toEqual(["application/x-ndjson", "text/csv"]);
  });
});

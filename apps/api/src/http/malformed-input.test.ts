// Every documented operation, called with malformed input (path ids, query strings, bodies and content types no
// client should send) by a plain and an admin key, on unknown ids and on a batch and post that exist: each answer is
// a 4xx with the error body, or a success, never a 5xx.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { runIngest } from "../ingest/ingest-job.js";
import { useTestApi } from "../testing/harness.js";

interface Document {
  paths: Record<string, Record<string, { requestBody?: unknown }>>;
}

const BAD_IDS = [
  "not-a-uuid",
  "0",
  "a".repeat(3000),
  "%00",
  "..%2F..%2Fetc%2Fpasswd",
  "%E2%82", // a cut UTF-8 sequence
  "00000000-0000-0000-0000-00000000000g",
  randomUUID(), // well formed, unknown
];
const BAD_QUERIES = [
  "limit=-1",
  "limit=1e9",
  "limit=abc",
  "cursor=%00",
  "cursor=not-a-cursor",
  "state=nope",
  "format=xml",
  "order=sideways",
  "size=999999",
  "flag=&hashtag=&score_below=NaN",
  "force=maybe",
  `hashtag=${"x".repeat(5000)}`,
  "limit=1&limit=2",
  "hashtag=%00&flag=%00&state=%00",
  "reviewer=%00",
];
const BAD_BODIES: { payload: string; type: string }[] = [
  { payload: "{", type: "application/json" },
  { payload: "null", type: "application/json" },
  { payload: "[]", type: "application/json" },
  { payload: '"text"', type: "application/json" },
  { payload: "12", type: "application/json" },
  { payload: '{"posts": "x"}', type: "application/json" },
  { payload: '{"posts": [null, 1, {"caption": {"a": 1}}]}', type: "application/json" },
  { payload: '{"s3Keys": [""], "options": {"includeReels": "yes"}}', type: "application/json" },
  { payload: '{"add": "x", "remove": [1], "reviewer": {}}', type: "application/json" },
  { payload: '{"epochs": -3, "candidates": 7, "force": "no"}', type: "application/json" },
  { payload: `{"add": ["${"y".repeat(10000)}"]}`, type: "application/json" },
  // nested deeper than any reader recurses
  {
    payload: `{"posts": [{"caption": ${"[".repeat(100_000)}${"]".repeat(100_000)}}]}`,
    type: "application/json",
  },
  // NUL in strings: valid JSON, but Postgres text cannot hold it
  {
    payload: '{"add": ["a\\u0000b"], "remove": ["\\u0000"], "reviewer": "r\\u0000"}',
    type: "application/json",
  },
  {
    payload: '{"posts": [{"caption": "nul \\u0000 here", "externalId": "\\u0000"}]}',
    type: "application/json",
  },
  { payload: "\u0000\u0001", type: "application/octet-stream" },
  { payload: "a=1&b=2", type: "application/x-www-form-urlencoded" },
  { payload: "--x\r\nbroken", type: "multipart/form-data; boundary=x" },
  { payload: "--x\r\nbroken", type: "multipart/form-data" }, // no boundary
  {
    // a file part cut short: its bytes end without the closing boundary
    payload: '--x\r\ncontent-disposition: form-data; name="file"; filename="a.zip"\r\n\r\nPK\u0003\u0004 cut',
    type: "multipart/form-data; boundary=x",
  },
];

describe("malformed input", () => {
  const api = useTestApi();
  let doc: Document;
  let headers: Record<string, string>;

  /**
   * Ids that exist, so that malformed queries and bodies reach past the lookups: a batch of the plain key and its
   * post (an admin key sees another key's batch as missing, and reaches the admin routes instead).
   */
  const real: Record<string, string> = {};
  let own: Record<string, string>;

  beforeAll(async () => {
    own = { "x-api-key": api.key };
    doc = (await api.app.inject({ method: "GET", url: "/docs/json" })).json();
    headers = { "x-api-key": (await api.newKey({ admin: true })).key };
    const created = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      headers: own,
      payload: { posts: [{ caption: "a real post #sweep" }] },
    });
    real.batches = (created.json() as { batchId: string }).batchId;
    await runIngest(real.batches, {
      repos: api.deps.repos,
      store: api.deps.store,
      features: api.deps.queues.features,
      log: api.deps.log,
    });
    const page = await api.app.inject({
      method: "GET",
      url: `/v1/batches/${real.batches}/posts`,
      headers: own,
    });
    real.posts = (page.json() as { posts: { id: string }[] }).posts[0]!.id;
  });

  it("answers a multipart body the parser cannot read with 400 malformed_upload, and keeps no batch of it", async () => {
    const batches = async () =>
      (await api.deps.db.pool.query("SELECT id FROM batches WHERE api_key_id = $1", [api.keyId])).rows;
    const before = await batches();
    for (const body of BAD_BODIES.filter((b) => b.type.startsWith("multipart/"))) {
      const res = await api.app.inject({
        method: "POST",
        url: "/v1/batches",
        headers: { "x-api-key": api.key, "content-type": body.type },
        payload: body.payload,
      });
      expect(res.statusCode, body.payload).toBe(400);
      expect(res.json()).toMatchObject({
        error: "malformed_upload",
        message: expect.stringMatching(/^the multipart body cannot be read: \w/),
      });
    }
    expect(await batches()).toEqual(before);
  });

  it("never gets a 5xx from any documented operation, and every 4xx says why", async () => {
    const served: string[] = [];
    const failures: string[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        // a real id where there is one (`/v1/batches/{id}...` takes the batch's), else an unknown one
        const resource = /^\/v1\/(\w[\w-]*)\/\{/.exec(path)?.[1] ?? "";
        const known = path.replace(/\{[^}]+\}/g, real[resource] ?? randomUUID());
        const urls = path.includes("{") ? BAD_IDS.map((id) => path.replace(/\{[^}]+\}/g, id)) : [];
        urls.push(known, ...BAD_QUERIES.map((q) => `${known}?${q}`));
        const bodies = op.requestBody || method !== "get" ? BAD_BODIES : [undefined];
        for (const [role, key] of [
          ["plain", own],
          ["admin", headers],
        ] as const)
          for (const url of urls)
            for (const body of bodies) {
              const res = await api.app.inject({
                method: method.toUpperCase() as "GET",
                url,
                headers: body ? { ...key, "content-type": body.type } : key,
                payload: body?.payload,
              });
              const what = `${role} ${method.toUpperCase()} ${url.slice(0, 120)}${body ? ` ${body.type} ${body.payload.slice(0, 60)}` : ""}`;
              served.push(what);
              if (res.statusCode >= 500)
                failures.push(`${what}: ${res.statusCode} ${res.body.slice(0, 200)}`);
              else if (res.statusCode >= 400) {
                const error = res.headers["content-type"]?.toString().startsWith("application/json")
                  ? (res.json() as { error?: unknown; message?: unknown })
                  : {};
                if (typeof error.error !== "string" || typeof error.message !== "string" || !error.message)
                  failures.push(
                    `${what}: ${res.statusCode} without an error body: ${res.body.slice(0, 200)}`,
                  );
              }
            }
      }
    }
    expect(served.length).toBeGreaterThan(500); // every operation was tried, many ways
    expect(failures).toEqual([]);
    // and the log holds no unexpected error either
    expect(api.records.filter((r) => r.level === "error" || r.level === "fatal").map((r) => r.msg)).toEqual(
      [],
    );
  }, 120_000);
});

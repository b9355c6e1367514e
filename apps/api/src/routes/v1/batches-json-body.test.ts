// POST /v1/batches with a JSON body over real HTTP: the body is streamed to disk as it arrives (sent in chunks with
// no declared length here, as a client streaming a large export would), never held whole.
import { readdir } from "node:fs/promises";
import { JSON_KEPT_MAX_CHARS } from "@lxtag/exports";
import { beforeAll, describe, expect, it } from "vitest";
import { useTestApi } from "../../testing/harness.js";

const LIMIT = 2 * 2 ** 20;

describe("POST /v1/batches with a streamed JSON body", () => {
  const api = useTestApi({ env: { LXTAG_API_BODY_LIMIT: String(LIMIT) } });
  let base: string;
  beforeAll(async () => {
    base = await api.app.listen({ host: "127.0.0.1", port: 0 });
  });

  /** Sends `chunks` as the body, chunked (no content-length). */
  const send = (chunks: string[]) => {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
        controller.close();
      },
    });
    return fetch(`${base}/v1/batches`, {
      method: "POST",
      headers: { "x-api-key": api.key, "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
  };
  /** What the key has: its batches, its uploads in S3, the spool's folders. */
  const kept = async () => ({
    batches: (await api.deps.repos.batches.listForKey(api.keyId, { limit: 100 })).length,
    uploads: (await api.deps.store.list(`uploads/${api.keyId}/`)).length,
    spooled: (await readdir(api.deps.spool.dir)).length,
  });

  it("takes a body sent in pieces with no declared length, its options after its posts", async () => {
    const posts = Array.from({ length: 500 }, (_, i) => ({ externalId: `p${i}`, caption: `post ${i} #tag` }));
    const text = JSON.stringify({ posts, options: { includeReels: false } });
    const pieces = Array.from({ length: Math.ceil(text.length / 997) }, (_, i) =>
      text.slice(i * 997, (i + 1) * 997),
    );
    const res = await send(pieces);
    expect(res.status).toBe(202);
    const { batchId } = (await res.json()) as { batchId: string };
    const row = (await api.deps.repos.batches.find(batchId))!;
    expect(row.options).toEqual({ includeReels: false, includeArchived: false, allowTraining: true });
    const key = `uploads/${api.keyId}/${batchId}/posts.json`;
    expect(row.source).toEqual({ type: "json", key });
    expect((await api.deps.store.get(key)).toString()).toBe(text);
  });

  it("answers 413 once a body passes the limit as it streams in, and keeps nothing of it", async () => {
    const before = await kept();
    const filler = `{"caption": "${"x".repeat(64 * 1024)}"},`;
    const res = await send([
      '{"posts": [',
      ...Array.from({ length: 40 }, () => filler),
      '{"caption": "end"}]}',
    ]);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: "payload_too_large",
      message: `the JSON body exceeds ${LIMIT} bytes (LXTAG_API_BODY_LIMIT); send the posts as a JSON file in a multipart upload, whose limit is a part's`,
    });
    expect(await kept()).toEqual(before);
  });

  it("keeps nothing of a body whose client goes away half-way, and goes on serving", async () => {
    const before = await kept();
    const logged = api.records.length;
    for (const pause of [0, 50]) {
      const aborter = new AbortController();
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode(`{"posts": [{"caption": "${"x".repeat(100_000)}"},`));
          await new Promise((r) => setTimeout(r, pause));
          aborter.abort();
        },
      });
      await expect(
        fetch(`${base}/v1/batches`, {
          method: "POST",
          headers: { "x-api-key": api.key, "content-type": "application/json" },
          body,
          duplex: "half",
          signal: aborter.signal,
        } as RequestInit),
      ).rejects.toThrow();
    }
    await expect.poll(kept, { timeout: 5000 }).toEqual(before);
    expect((await send(['{"posts": [{"caption": "after"}]}'])).status).toBe(202);
    // the request's end is no error of lxtag's
    expect(api.records.slice(logged).filter((r) => r.level === "error" || r.level === "fatal")).toEqual([]);
  });

  it("refuses past 100,000 posts, an options value past its bound, a post nested too deep and posts sent twice, keeping nothing", async () => {
    const before = await kept();
    const many = await send(['{"posts": [', Array.from({ length: 100_001 }, () => "{}").join(","), "]}"]);
    expect(many.status).toBe(400);
    expect(await many.json()).toEqual({
      error: "bad_request",
      message:
        "posts: 100001 posts, more than a JSON body takes (100000); send them as a JSON file in a multipart upload",
    });
    const options = await send(['{"options": "', "x".repeat(JSON_KEPT_MAX_CHARS), '", "posts": [{}]}']);
    expect(options.status).toBe(400);
    expect(await options.json()).toEqual({
      error: "bad_request",
      message: `body: the value of "options" is longer than ${JSON_KEPT_MAX_CHARS} characters`,
    });
    const deep = await send(['{"posts": [{"caption": ', "[".repeat(300), "]".repeat(300), "}]}"]);
    expect(deep.status).toBe(400);
    expect(await deep.json()).toEqual({
      error: "invalid_json",
      message:
        "body is not valid JSON: a value nested deeper than 256 levels at line 1 column 277 (character 276)",
    });
    // which of two `posts` a sender meant is not for the reader to guess
    const twice = await send(['{"posts": [{"caption": "a"}], ', '"posts": [{"caption": "b"}]}']);
    expect(twice.status).toBe(400);
    expect(await twice.json()).toEqual({
      error: "bad_request",
      message: 'body: "posts" appears twice at line 1 column 31 (character 30)',
    });
    const array = await send(['[{"caption": "a"}]']);
    expect(await array.json()).toEqual({
      error: "bad_request",
      message: "body: expected {posts: [...]} or {s3Keys: [...]}",
    });
    expect(await kept()).toEqual(before);
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { uploadForm, useTestApi } from "../testing/harness.js";

describe("error handling", () => {
  // small limits, so that 413s are cheap to provoke
  const api = useTestApi({ env: { LXTAG_API_BODY_LIMIT: "256", LXTAG_UPLOAD_MAX_BYTES: "16" } });
  let auth: { "x-api-key": string };
  beforeAll(() => {
    auth = { "x-api-key": api.key };
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await api.app.inject({ method: "GET", url: "/v2/nothing" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: "not_found", message: "no route GET /v2/nothing" });
  });

  it("answers an empty JSON body with 400", async () => {
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      headers: { ...auth, "content-type": "application/json" },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: "invalid_json",
      message: "body is not valid JSON: it is empty",
    });
  });

  it("answers an unsupported content type with 415", async () => {
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      payload: "caption",
      headers: { ...auth, "content-type": "text/plain" },
    });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toEqual({ error: "unsupported_media_type", message: "Unsupported Media Type" });
  });

  it("answers a JSON body over the limit with 413", async () => {
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      payload: { posts: [{ caption: "x".repeat(300) }] },
      headers: auth,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({
      error: "payload_too_large",
      message:
        "the JSON body exceeds 256 bytes (LXTAG_API_BODY_LIMIT); send the posts as a JSON file in a multipart " +
        "upload, whose limit is a part's",
    });
  });

  it("answers an upload part over the limit with 413", async () => {
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      payload: uploadForm([{ name: "big.zip", bytes: "x".repeat(64) }]),
      headers: auth,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({
      error: "payload_too_large",
      message: "upload part big.zip exceeds 16 bytes",
    });
  });

  it("answers a multipart field declared as JSON that does not parse with 400", async () => {
    // FormData cannot give a plain field a content type: the body is written out
    const payload = [
      "--b",
      'Content-Disposition: form-data; name="options"',
      "Content-Type: application/json",
      "",
      "{nope",
      "--b",
      'Content-Disposition: form-data; name="file"; filename="a.zip"',
      "Content-Type: application/zip",
      "",
      "zip",
      "--b--",
      "",
    ].join("\r\n");
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      payload,
      headers: { ...auth, "content-type": "multipart/form-data; boundary=b" },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: "invalid_json",
      message: "a multipart field declared as JSON is not valid JSON",
    });
  });
});

describe("unexpected errors", () => {
  // Postgres unreachable: the key check itself fails, on a route that is otherwise fine
  const api = useTestApi({
    env: { DATABASE_URL: "postgresql://lxtag:lxtag@127.0.0.1:1/lxtag" },
    withKey: false,
  });

  it("answer 500 internal, with the details in the log and its request context only", async () => {
    const res = await api.app.inject({ method: "GET", url: "/v1/models", headers: { "x-api-key": "any" } });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: "internal", message: "internal error" });
    const logged = api.records.find((r) => r.msg === "request failed");
    expect(logged).toMatchObject({
      level: "error",
      method: "GET",
      url: "/v1/models",
      reqId: expect.any(String),
    });
    expect(logged?.err).toBeInstanceOf(Error);
  });
});

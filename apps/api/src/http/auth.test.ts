import { describe, expect, it, vi } from "vitest";
import { uploadForm, useTestApi } from "../testing/harness.js";

const UNAUTHORIZED = {
  error: "unauthorized",
  message: "missing or invalid API key (send x-api-key or Authorization: Bearer)",
};

describe("authentication of /v1", () => {
  const api = useTestApi();

  it("refuses a request without a key", async () => {
    const res = await api.app.inject({ method: "GET", url: "/v1/models" });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual(UNAUTHORIZED);
  });

  it("refuses an unknown key, in either header", async () => {
    for (const headers of [{ "x-api-key": "nope" }, { authorization: "Bearer nope" }]) {
      const res = await api.app.inject({ method: "GET", url: "/v1/models", headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual(UNAUTHORIZED);
    }
  });

  it("accepts the key as x-api-key or as a Bearer token", async () => {
    const byHeader = await api.app.inject({
      method: "GET",
      url: "/v1/models",
      headers: { "x-api-key": api.key },
    });
    expect(byHeader.statusCode).toBe(200);
    const byBearer = await api.app.inject({
      method: "GET",
      url: "/v1/models",
      headers: { authorization: `Bearer ${api.key}` },
    });
    expect(byBearer.statusCode).toBe(200);
    expect(byBearer.json()).toEqual(byHeader.json());
  });

  it("refuses a key sent without the Bearer scheme", async () => {
    const res = await api.app.inject({
      method: "GET",
      url: "/v1/models",
      headers: { authorization: api.key },
    });
    expect(res.statusCode).toBe(401);
  });

  // the router decodes %76 to "v": the check belongs to the route, not to the URL's spelling
  it("covers routes reached through an encoded path", async () => {
    const res = await api.app.inject({ method: "GET", url: "/%761/models" });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual(UNAUTHORIZED);
    const keyed = await api.app.inject({
      method: "GET",
      url: "/%761/models",
      headers: { "x-api-key": api.key },
    });
    expect(keyed.statusCode).toBe(200);
  });

  it("refuses an upload before reading it: nothing reaches S3", async () => {
    const put = vi.spyOn(api.deps.store, "putFile");
    try {
      const form = () => uploadForm([{ name: "a.zip", bytes: "zip bytes" }]);
      for (const url of ["/v1/batches", "/%761/batches"]) {
        const res = await api.app.inject({ method: "POST", url, payload: form() });
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual(UNAUTHORIZED);
      }
      expect(put).not.toHaveBeenCalled();
      // the same request with a key is accepted and stored: the spy sees uploads
      const ok = await api.app.inject({
        method: "POST",
        url: "/%761/batches",
        payload: form(),
        headers: { "x-api-key": api.key },
      });
      expect(ok.statusCode).toBe(202);
      expect(put).toHaveBeenCalledTimes(1);
    } finally {
      put.mockRestore();
    }
  });

  it("leaves the probes and the API description open", async () => {
    for (const url of ["/healthz", "/docs/json"]) {
      const res = await api.app.inject({ method: "GET", url });
      expect(res.statusCode, url).toBe(200);
    }
  });
});

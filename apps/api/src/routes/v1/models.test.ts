import { describe, expect, it } from "vitest";
import { seedModel } from "../../testing/fixtures.js";
import { useTestApi } from "../../testing/harness.js";

describe("GET /v1/models", () => {
  const api = useTestApi();

  it("lists registered versions with ISO timestamps and without their manifests", async () => {
    const id = await seedModel(api);
    const row = (await api.deps.repos.models.find(id))!;
    const res = await api.app.inject({ method: "GET", url: "/v1/models", headers: { "x-api-key": api.key } });
    expect(res.statusCode).toBe(200);
    const entry = res.json().find((m: { id: string }) => m.id === id);
    expect(entry).toEqual({
      id,
      architecture: "lxmert4hashtag",
      state: "candidate", // activating it would retire the serving model of whoever shares this database
      bundlePrefix: `models/${id}/`,
      detectorId: "test-detector",
      hashtags: 2,
      metrics: { "f1@2": 0.5 },
      createdAt: row.createdAt.toISOString(),
      activatedAt: null,
    });
  });
});

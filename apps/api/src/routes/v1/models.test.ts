import { randomUUID } from "node:crypto";
import { CURRENT_DETECTOR_KEY } from "@lxtag/contracts";
import { applicationName } from "@lxtag/db";
import { ObjectNotFoundError } from "@lxtag/storage";
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  publishTestDetector,
  seedBatch,
  seedModel,
  TEST_DETECTOR,
  TEST_DETECTOR_BUCKET,
} from "../../testing/fixtures.js";
import { useTestApi } from "../../testing/harness.js";

const FORBIDDEN = { error: "forbidden", message: "this route needs an admin API key" };

describe("/v1/models", () => {
  // a registry of its own: other test files register and delete versions in the shared database meanwhile
  const api = useTestApi({ scratchDatabase: true });
  let plain: { "x-api-key": string };
  let admin: { "x-api-key": string };
  let used: string; // predicted posts of the test key's batch
  let unused: string; // registered, never used by the test key
  beforeAll(async () => {
    plain = { "x-api-key": api.key };
    admin = { "x-api-key": (await api.newKey({ admin: true })).key };
    used = await seedModel(api);
    unused = await seedModel(api);
    await seedBatch(api.deps, api.keyId, used);
  });
  const get = (url: string, headers: Record<string, string>) =>
    api.app.inject({ method: "GET", url, headers });

  describe("GET /", () => {
    it("lists versions with ISO timestamps and without their manifests", async () => {
      const row = (await api.deps.repos.models.find(used))!;
      const res = await get("/v1/models", plain);
      expect(res.statusCode).toBe(200);
      expect(res.json().find((m: { id: string }) => m.id === used)).toEqual({
        id: used,
        architecture: "lxmert4hashtag",
        state: "candidate", // activating it would retire the serving model of whoever shares this database
        bundlePrefix: `models/${used}/`,
        detectorId: TEST_DETECTOR,
        hashtags: 2,
        metrics: { "f1@2": 0.5 },
        createdAt: row.createdAt.toISOString(),
        activatedAt: null,
        refusal: null,
      });
    });

    it("shows a plain key the versions that predicted its posts, and an admin key every version", async () => {
      const ids = async (headers: Record<string, string>) =>
        (await get("/v1/models", headers)).json().map((m: { id: string }) => m.id);
      expect(await ids(plain)).toEqual([used]);
      const all = await ids(admin);
      expect(all).toEqual(expect.arrayContaining([used, unused]));
      expect(all.length).toBe((await api.deps.repos.models.list()).length);
      const other = await api.newKey();
      expect(await ids({ "x-api-key": other.key })).toEqual([]);
    });
  });

  describe("GET /:id", () => {
    it("answers a version with its manifest's hashtags and dataset", async () => {
      const row = (await api.deps.repos.models.find(used))!;
      const res = await get(`/v1/models/${used}`, plain);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        id: used,
        architecture: "lxmert4hashtag",
        state: "candidate",
        bundlePrefix: `models/${used}/`,
        detectorId: TEST_DETECTOR,
        hashtags: 2,
        hashtagNames: ["travel", "food"],
        metrics: { "f1@2": 0.5 },
        dataset: { id: "test-dataset", posts: 2 },
        createdAt: row.createdAt.toISOString(),
        activatedAt: null,
        refusal: null,
      });
    });

    it("shows a plain key a refusal without the worker that made it and its error (a host, paths)", async () => {
      const refused = await seedModel(api);
      const other = await api.newKey(); // a key of its own: the other tests' plain key sees one version
      await seedBatch(api.deps, other.keyId, refused);
      await api.deps.repos.models.refuse(refused, "out of memory");
      const plainView = (await get(`/v1/models/${refused}`, { "x-api-key": other.key })).json();
      expect(plainView.refusal).toEqual({ at: expect.any(String) });
      const adminView = (await get(`/v1/models/${refused}`, admin)).json();
      expect(adminView.refusal).toEqual({
        ...plainView.refusal,
        by: applicationName("api"),
        reason: "out of memory",
      });
    });

    it("answers 404 for a version the key does not see, and for an unknown one; an admin key sees all", async () => {
      const hidden = await get(`/v1/models/${unused}`, plain);
      expect(hidden.statusCode).toBe(404);
      expect(hidden.json()).toEqual({ error: "not_found", message: `model ${unused} not found` });
      const unknown = `nope-${randomUUID()}`;
      const missing = await get(`/v1/models/${unknown}`, admin);
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ error: "not_found", message: `model ${unknown} not found` });
      const seen = await get(`/v1/models/${unused}`, admin);
      expect(seen.statusCode).toBe(200);
      expect(seen.json()).toMatchObject({ id: unused, hashtagNames: ["travel", "food"] });
    });
  });

  describe("POST /:id/activate", () => {
    it("refuses a plain key (403) before looking the version up, and changes nothing", async () => {
      const before = await api.deps.repos.models.active();
      for (const id of [used, `nope-${randomUUID()}`]) {
        const res = await api.app.inject({
          method: "POST",
          url: `/v1/models/${id}/activate`,
          headers: plain,
        });
        expect(res.statusCode).toBe(403);
        expect(res.json()).toEqual(FORBIDDEN);
      }
      expect((await api.deps.repos.models.find(used))!.state).toBe("candidate");
      expect((await api.deps.repos.models.active())?.id).toBe(before?.id);
    });

    it("refuses a request without a key (401), not 403", async () => {
      const res = await api.app.inject({ method: "POST", url: `/v1/models/${used}/activate` });
      expect(res.statusCode).toBe(401);
    });
  });
});

// Activation changes what every predict worker of a database serves: these tests have a registry of their own,
// and a bucket whose detectors/current.json names TEST_DETECTOR.
describe("POST /v1/models/:id/activate", () => {
  const api = useTestApi({ scratchDatabase: true, env: { LXTAG_S3_BUCKET: TEST_DETECTOR_BUCKET } });
  let admin: { "x-api-key": string };
  beforeAll(async () => {
    await publishTestDetector(api.deps.store);
    admin = { "x-api-key": (await api.newKey({ admin: true })).key };
  });
  const activate = (id: string, headers = admin, query = "") =>
    api.app.inject({ method: "POST", url: `/v1/models/${id}/activate${query}`, headers });
  const state = async (id: string) => (await api.deps.repos.models.find(id))!.state;
  const get = (url: string) => api.app.inject({ method: "GET", url, headers: admin });

  it("serves the version, retires the previous one, and rolls back by activating the older one", async () => {
    const older = await seedModel(api);
    const newer = await seedModel(api);

    const first = await activate(older);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ id: older, state: "active", activatedAt: expect.any(String) });
    expect((await api.deps.repos.models.active())?.id).toBe(older);

    const second = await activate(newer);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toMatchObject({ id: newer, state: "active" });
    expect((await api.deps.repos.models.active())?.id).toBe(newer);
    expect(await state(older)).toBe("retired");

    const rollback = await activate(older);
    expect(rollback.statusCode).toBe(200);
    expect(rollback.json()).toMatchObject({ id: older, state: "active" });
    expect((await api.deps.repos.models.active())?.id).toBe(older);
    expect(await state(newer)).toBe("retired");
    const listed = (await api.app.inject({ method: "GET", url: "/v1/models", headers: admin })).json();
    expect(listed.filter((m: { state: string }) => m.state === "active")).toEqual([
      expect.objectContaining({ id: older }),
    ]);
  });

  it("leaves an active version as it is when it is activated again", async () => {
    const id = await seedModel(api);
    const first = (await activate(id)).json();
    const again = await activate(id);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first);
  });

  it("refuses (409) a version of another detector than the serving one, and changes nothing", async () => {
    const serving = await seedModel(api);
    await activate(serving);
    const other = await seedModel(api, { detector: "another-detector" });
    const res = await activate(other);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({
      error: "detector_mismatch",
      message: `model ${other} needs detector another-detector, but the serving detector is ${TEST_DETECTOR}`,
    });
    expect(await state(other)).toBe("candidate");
    expect((await api.deps.repos.models.active())?.id).toBe(serving);
  });

  it("refuses (409) every version while no detector is published", async () => {
    const id = await seedModel(api);
    const get = vi.spyOn(api.deps.store, "get").mockImplementation(async (key) => {
      throw new ObjectNotFoundError(key); // S3's answer for a bucket without detectors/current.json
    });
    try {
      const res = await activate(id);
      expect(res.statusCode).toBe(409);
      expect(res.json()).toEqual({
        error: "detector_mismatch",
        message: `model ${id} needs detector ${TEST_DETECTOR}, and no detector is serving (detectors/current.json is missing)`,
      });
      expect(get).toHaveBeenCalledWith(CURRENT_DETECTOR_KEY);
    } finally {
      get.mockRestore();
    }
    expect(await state(id)).toBe("candidate");
  });

  it("refuses (409) a version a predict worker refused unless forced, shows the refusal; force clears it", async () => {
    const serving = await seedModel(api);
    await activate(serving);
    const broken = await seedModel(api);
    const reason = "the model scores 2 hashtags, its manifest names 3";
    await api.deps.repos.models.refuse(broken, reason);
    await api.deps.repos.models.refuse(broken, "another reason"); // the first refusal stays
    const { refusedAt } = (await api.deps.repos.models.find(broken))!;
    for (const query of ["", "?force=false"]) {
      const res = await activate(broken, admin, query);
      expect(res.statusCode).toBe(409);
      expect(res.json()).toEqual({
        error: "model_refused",
        message: `a predict worker refused model version ${broken} at ${refusedAt!.toISOString()}: ${reason}. A bundle never changes: publish a fixed one as a new version, or, if the cause has passed (a memory shortage, say), activate it with force=true`,
      });
    }
    expect(await state(broken)).toBe("candidate");
    expect((await api.deps.repos.models.active())?.id).toBe(serving);
    // an admin sees which worker refused it: the process's Postgres application_name (here the API's own pool)
    const shown = (await get(`/v1/models/${broken}`)).json();
    expect(shown.refusal).toEqual({
      at: refusedAt!.toISOString(),
      by: applicationName("api"),
      reason,
    });
    expect((await get("/v1/models")).json().find((m: { id: string }) => m.id === serving).refusal).toBeNull();

    const forced = await activate(broken, admin, "?force=true");
    expect(forced.statusCode).toBe(200);
    expect(forced.json()).toMatchObject({ id: broken, state: "active", refusal: null });
    expect(await state(serving)).toBe("retired");
    // refused while active: activating it again is refused too, and forcing it clears the refusal in place
    await api.deps.repos.models.refuse(broken, reason);
    expect((await activate(broken)).statusCode).toBe(409);
    const again = await activate(broken, admin, "?force=true");
    expect(again.json()).toMatchObject({ id: broken, state: "active", refusal: null });
  });

  it("answers 400 for a query it does not know", async () => {
    const id = await seedModel(api);
    for (const query of ["?force=yes", "?forced=true"]) {
      const res = await activate(id, admin, query);
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe("bad_request");
    }
    expect(await state(id)).toBe("candidate");
  });

  it("answers 404 for an unknown version", async () => {
    const id = `nope-${randomUUID()}`;
    const res = await activate(id);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: "not_found", message: `model ${id} not found` });
  });

  it("refuses a plain key (403)", async () => {
    const id = await seedModel(api);
    const res = await activate(id, { "x-api-key": api.key });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual(FORBIDDEN);
    expect(await state(id)).toBe("candidate");
  });
});

// Each describe has a database of its own: its list is exactly the runs it made, and no trainer of the shared
// database counts its done runs as the last successful one.
import { randomUUID } from "node:crypto";
import { jobIds } from "@lxtag/contracts";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { InvalidStoredRunError } from "../../errors.js";
import { doneRunFields, seedModel, setRunCreatedAt } from "../../testing/fixtures.js";
import { useTestApi } from "../../testing/harness.js";

const FORBIDDEN = { error: "forbidden", message: "this route needs an admin API key" };

describe("reading /v1/training-runs", () => {
  const api = useTestApi({ scratchDatabase: true });
  let admin: { "x-api-key": string };
  let modelId: string;
  // newest first: running, then failed and queued (created together: by id, descending), skipped, done
  const ids = {} as Record<"running" | "failed" | "queued" | "skipped" | "done", string>;
  let order: string[];
  beforeAll(async () => {
    admin = { "x-api-key": (await api.newKey({ admin: true })).key };
    modelId = await seedModel(api);
    const runs = api.deps.repos.trainingRuns;
    const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000);

    const done = await runs.create({ epochs: 3, force: false });
    await runs.stage(done.id, "publish", { start: 0.01 });
    await runs.update(done.id, doneRunFields(modelId));
    await runs.appendLog(done.id, ["training run", "== skip-check", `published ${modelId} (candidate)`]);
    await runs.finish(done.id, "done", { timings: doneRunFields(modelId).timings });
    ids.done = done.id;

    const skipped = await runs.create({ force: false });
    await runs.stage(skipped.id, "skip-check");
    await runs.update(skipped.id, {
      decision: { skipped: true, reason: "0 new labeled posts and 1 new labels", newPosts: 0, newLabels: 1 },
    });
    await runs.finish(skipped.id, "skipped", { timings: { start: 0.01 } });
    ids.skipped = skipped.id;

    const failed = await runs.create({ force: true });
    await runs.stage(failed.id, "train");
    await runs.finish(failed.id, "failed", { error: "engine exited with 1" });
    ids.failed = failed.id;
    ids.queued = (await runs.create({ requestedBy: "k", force: false }, { state: "queued" })).id;
    ids.running = (await runs.create({ force: false })).id;

    await setRunCreatedAt(api.deps, ids.done, minutesAgo(4));
    await setRunCreatedAt(api.deps, ids.skipped, minutesAgo(3));
    const together = minutesAgo(2);
    await setRunCreatedAt(api.deps, ids.failed, together);
    await setRunCreatedAt(api.deps, ids.queued, together);
    await setRunCreatedAt(api.deps, ids.running, minutesAgo(1));
    const tied = [ids.failed, ids.queued].sort().reverse();
    order = [ids.running, ...tied, ids.skipped, ids.done];
  });
  const get = (url: string, headers = admin) => api.app.inject({ method: "GET", url, headers });
  const row = async (id: string) => (await api.deps.repos.trainingRuns.find(id))!;

  describe("GET /", () => {
    it("lists every run newest first, each in a line: no log, the decision as promote and reason", async () => {
      const res = await get("/v1/training-runs");
      expect(res.statusCode).toBe(200);
      const { runs, nextCursor } = res.json();
      expect(runs.map((r: { id: string }) => r.id)).toEqual(order);
      expect(nextCursor).toBeNull();
      const byId = Object.fromEntries(runs.map((r: { id: string }) => [r.id, r]));
      const done = await row(ids.done);
      expect(byId[ids.done]).toEqual({
        id: ids.done,
        state: "done",
        stage: "publish",
        modelVersionId: modelId,
        decision: { promote: true, reason: doneRunFields(modelId).decision.reason },
        error: null,
        createdAt: done.createdAt.toISOString(),
        startedAt: done.startedAt!.toISOString(),
        finishedAt: done.finishedAt!.toISOString(),
      });
      expect(byId[ids.skipped]).toMatchObject({
        state: "skipped",
        decision: { promote: false, reason: "0 new labeled posts and 1 new labels" },
        error: null,
      });
      expect(byId[ids.failed]).toMatchObject({
        state: "failed",
        stage: "train",
        error: "engine exited with 1",
      });
      expect(byId[ids.queued]).toMatchObject({
        state: "queued",
        stage: null,
        startedAt: null,
        decision: null,
      });
      expect(byId[ids.running]).toMatchObject({ state: "running", finishedAt: null, modelVersionId: null });
    });

    it("pages by cursor: the last id of a page", async () => {
      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const res = await get(`/v1/training-runs?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
        expect(res.statusCode).toBe(200);
        const page: { runs: { id: string }[]; nextCursor: string | null } = res.json();
        pages.push(page.runs.map((r) => r.id));
        cursor = page.nextCursor;
        if (cursor) expect(cursor).toBe(page.runs.at(-1)!.id);
      } while (cursor && pages.length < 10);
      expect(pages).toEqual([order.slice(0, 2), order.slice(2, 4), order.slice(4)]);
      // a page that ends exactly at the last run says so
      const exact = (await get(`/v1/training-runs?limit=2&cursor=${order[2]}`)).json();
      expect(exact).toMatchObject({ runs: [{ id: order[3] }, { id: order[4] }], nextCursor: null });
    });

    it("answers 400 for a bad limit or cursor, and an unknown cursor", async () => {
      const unknown = randomUUID();
      for (const [query, message] of [
        ["limit=0", "limit: Too small: expected number to be >=1"],
        ["limit=101", "limit: Too big: expected number to be <=100"],
        ["cursor=nope", "cursor: Invalid UUID"],
        [`cursor=${unknown}`, `cursor: no training run ${unknown}`],
      ]) {
        const res = await get(`/v1/training-runs?${query}`);
        expect(res.statusCode, query).toBe(400);
        expect(res.json(), query).toEqual({ error: "bad_request", message });
      }
    });
  });

  describe("GET /:id", () => {
    it("answers everything a finished run recorded, its log tail included", async () => {
      const done = await row(ids.done);
      const res = await get(`/v1/training-runs/${ids.done}`);
      expect(res.statusCode).toBe(200);
      const fields = doneRunFields(modelId);
      expect(res.json()).toEqual({
        id: ids.done,
        state: "done",
        stage: "publish",
        params: { epochs: 3, force: false },
        datasetId: "test-dataset",
        modelVersionId: modelId,
        filterReport: fields.filterReport,
        metrics: fields.metrics, // stored as the trainer wrote it, served as is
        decision: fields.decision,
        error: null,
        timings: fields.timings,
        log: `training run\n== skip-check\npublished ${modelId} (candidate)`,
        createdAt: done.createdAt.toISOString(),
        startedAt: done.startedAt!.toISOString(),
        finishedAt: done.finishedAt!.toISOString(),
      });
      expect(Object.keys(res.json().metrics.evaluation.candidate.metrics)).toEqual(["1", "2", "3", "4", "5"]);
    });

    it("answers a skipped run's decision as stored, and a queued run's empty fields", async () => {
      const skipped = (await get(`/v1/training-runs/${ids.skipped}`)).json();
      expect(skipped).toMatchObject({
        state: "skipped",
        decision: {
          skipped: true,
          reason: "0 new labeled posts and 1 new labels",
          newPosts: 0,
          newLabels: 1,
        },
        metrics: {},
        filterReport: null,
      });
      const queued = await row(ids.queued);
      expect((await get(`/v1/training-runs/${ids.queued}`)).json()).toEqual({
        id: ids.queued,
        state: "queued",
        stage: null,
        params: { requestedBy: "k", force: false },
        datasetId: null,
        modelVersionId: null,
        filterReport: null,
        metrics: {},
        decision: null,
        error: null,
        timings: {},
        log: null,
        createdAt: queued.createdAt.toISOString(),
        startedAt: null,
        finishedAt: null,
      });
    });

    it("answers 404 for an unknown run and 400 for an id that is not a uuid", async () => {
      const unknown = randomUUID();
      const missing = await get(`/v1/training-runs/${unknown}`);
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ error: "not_found", message: `training run ${unknown} not found` });
      const bad = await get("/v1/training-runs/nope");
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toEqual({ error: "bad_request", message: "id: Invalid UUID" });
    });

    it("answers 500 for a row its contract does not describe, naming the run in the log", async () => {
      await api.deps.repos.trainingRuns.update(ids.running, { decision: { promote: "yes" } });
      const res = await get(`/v1/training-runs/${ids.running}`);
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({ error: "internal", message: "internal error" });
      const logged = api.records.find(
        (r) => r.msg === "request failed" && r.url === `/v1/training-runs/${ids.running}`,
      );
      expect(logged?.err).toBeInstanceOf(InvalidStoredRunError);
      expect(logged?.err).toMatchObject({ runId: ids.running, field: "decision" });
      await api.deps.db.pool.query("UPDATE training_runs SET decision = NULL WHERE id = $1", [ids.running]);
    });
  });
});

describe("POST /v1/training-runs", () => {
  const api = useTestApi({ scratchDatabase: true });
  let admin: { "x-api-key": string };
  let adminId: string;
  beforeAll(async () => {
    const key = await api.newKey({ admin: true });
    admin = { "x-api-key": key.key };
    adminId = key.keyId;
  });
  const post = (payload?: object, headers: Record<string, string> = admin) =>
    api.app.inject({ method: "POST", url: "/v1/training-runs", headers, ...(payload ? { payload } : {}) });
  const runCount = async () => (await api.deps.repos.trainingRuns.list(1000)).length;
  const jobCount = async () =>
    Object.values(await api.deps.queues.training.getJobCounts()).reduce((a, b) => a + b);

  it("refuses a plain key (403) on every route, before reading anything, and records nothing", async () => {
    const plain = { "x-api-key": api.key };
    const known = (await api.deps.repos.trainingRuns.create({}, { state: "queued" })).id;
    for (const [method, url] of [
      ["GET", "/v1/training-runs"],
      ["GET", `/v1/training-runs/${known}`],
      ["GET", "/v1/training-runs/nope"],
      ["POST", "/v1/training-runs"],
    ] as const) {
      const res = await api.app.inject({
        method,
        url,
        headers: plain,
        payload: method === "POST" ? {} : undefined,
      });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json()).toEqual(FORBIDDEN);
    }
    const bad = await post({ force: "yes" }, plain);
    expect(bad.statusCode).toBe(403);
    expect(await runCount()).toBe(1);
    expect(await jobCount()).toBe(0);
  });

  it("records a queued run and queues a job named by it", async () => {
    const res = await post({ force: true });
    expect(res.statusCode).toBe(202);
    const { runId } = res.json();
    expect(res.json()).toEqual({ runId, state: "queued", links: { self: `/v1/training-runs/${runId}` } });
    expect(await api.deps.repos.trainingRuns.find(runId)).toMatchObject({
      state: "queued",
      stage: null,
      params: { requestedBy: adminId, force: true },
      startedAt: null,
      finishedAt: null,
    });
    const job = await api.deps.queues.training.getJob(jobIds.training(runId));
    expect(job?.name).toBe("training");
    expect(job?.data).toEqual({ runId, force: true });
    const self = await api.app.inject({ method: "GET", url: res.json().links.self, headers: admin });
    expect(self.json()).toMatchObject({
      id: runId,
      state: "queued",
      params: { requestedBy: adminId, force: true },
    });
  });

  it("takes an empty object as a run that is not forced", async () => {
    const res = await post({});
    expect(res.statusCode).toBe(202);
    const { runId } = res.json();
    expect((await api.deps.queues.training.getJob(jobIds.training(runId)))?.data).toEqual({
      runId,
      force: false,
    });
    expect((await api.deps.repos.trainingRuns.find(runId))?.params).toEqual({
      requestedBy: adminId,
      force: false,
    });
  });

  it("accepts a run while others are queued: each has its row and job", async () => {
    const before = await api.deps.queues.training.getWaitingCount();
    const a = (await post({})).json().runId;
    const b = (await post({})).json().runId;
    expect(a).not.toBe(b);
    expect(await api.deps.queues.training.getWaitingCount()).toBe(before + 2);
    for (const id of [a, b]) expect((await api.deps.repos.trainingRuns.find(id))?.state).toBe("queued");
  });

  it("keeps who asked for a run when the trainer starts it", async () => {
    const { runId } = (await post({ force: true })).json();
    const started = await api.deps.repos.trainingRuns.start(runId, {
      epochs: 3,
      force: true,
      scratch: false,
    });
    expect(started).toMatchObject({
      state: "running",
      params: { requestedBy: adminId, force: true, epochs: 3, scratch: false },
    });
  });

  it("answers 400 for a bad or misspelt option, and records nothing", async () => {
    const runs = await runCount();
    const jobs = await jobCount();
    for (const [payload, message] of [
      [{ force: "yes" }, "force: Invalid input: expected boolean, received string"],
      [{ forced: true }, 'body: Unrecognized key: "forced"'],
      [[], "body: Invalid input: expected object, received array"],
      [undefined, "body: Invalid input: expected object, received null"], // `{}` asks for the defaults
    ] as const) {
      const res = await post(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json()).toEqual({ error: "bad_request", message });
    }
    expect(await runCount()).toBe(runs);
    expect(await jobCount()).toBe(jobs);
  });

  it("marks the run failed when its job cannot be queued, and answers 500", async () => {
    const add = vi
      .spyOn(api.deps.queues.training, "add")
      .mockRejectedValue(new Error("Connection is closed."));
    try {
      const res = await post({});
      expect(res.statusCode).toBe(500);
    } finally {
      add.mockRestore();
    }
    const [newest] = await api.deps.repos.trainingRuns.list(1);
    expect(newest).toMatchObject({ state: "failed", error: "not queued: Connection is closed." });
    expect(newest!.finishedAt).toBeInstanceOf(Date);
  });
});

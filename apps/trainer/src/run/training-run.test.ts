// A training run end to end on real services: a scratch Postgres database (its own model registry and training
// history), S3 with RoI objects of a detector of the test's own, and the engine training tiny models.
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TrainingSelection } from "@lxtag/contracts";
import { applicationName, type Repositories, type TrainingRun } from "@lxtag/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainingCheckpointKey } from "../publish.js";
import { type SeededPost, seedLabeledPosts } from "../testing/labeled-posts.js";
import { type TrainerHarness as Harness, trainerHarness as harness } from "../testing/trainer-harness.js";
import type { Evaluation } from "./evaluate.js";
import type { FilterReport } from "./filters.js";
import type { GateDecision } from "./gate.js";
import { TrainingRunInProgressError } from "./lock.js";
import { splitOf } from "./split.js";
import { type DoneTrainingRun, runTraining, type TrainingRunOptions } from "./training-run.js";

const lines: string[] = [];
const options = (o: TrainingRunOptions = {}): TrainingRunOptions => ({ onLog: (l) => lines.push(l), ...o });
const done = (r: Awaited<ReturnType<typeof runTraining>>) => {
  expect(r.state).toBe("done");
  return r as DoneTrainingRun;
};
const row = async (repos: Repositories, id: string) => (await repos.trainingRuns.find(id)) as TrainingRun;
/** Whether the slow engine of the lock test is running. */
const sleeping = () =>
  new Promise<boolean>((resolve) => execFile("pgrep", ["-f", "sleep 93.25"], (err) => resolve(!err)));

describe("training run", () => {
  let h: Harness;
  let posts: SeededPost[];
  let v1: DoneTrainingRun;
  let v2: DoneTrainingRun;

  beforeAll(async () => {
    h = await harness();
    const detectorId = h.services.config.LXTAG_DETECTOR_ID!;
    const store = h.services.store;
    ({ posts } = await seedLabeledPosts(h.repos, store, {
      detectorId,
      images: 80,
      captionOnly: 12,
      roiMissing: 5,
      pending: 4,
    }));
    // a batch whose owner does not allow training: never read
    await seedLabeledPosts(h.repos, store, { detectorId, images: 6, allowTraining: false, seed: 2 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("trains a first model on a fresh install and activates it, recording the run as it goes", async () => {
    // a run whose process died while it ran: the next one to take the lock records it as failed
    const stale = await h.repos.trainingRuns.create({});
    const candidates = "lxmert4hashtag,linear,popularity";
    v1 = done(await runTraining(h.services, options({ candidates, blend: true })));
    expect(v1).toMatchObject({ activated: true, previousModelId: null, warmStartFrom: null });
    expect(v1.decision).toMatchObject({ promote: true, reason: "no model is active", active: null });
    expect((await h.repos.models.active())?.id).toBe(v1.candidateId);
    expect(await h.services.store.exists(trainingCheckpointKey(v1.candidateId))).toBe(true);

    const r = await row(h.repos, v1.runId);
    expect(r).toMatchObject({ state: "done", modelVersionId: v1.candidateId, datasetId: v1.dataset.id });
    expect(r.error).toBeNull();
    const report = r.filterReport as unknown as FilterReport;
    const step = (name: string) => report.steps.find((s) => s.filter === name);
    expect(step("ready")).toMatchObject({ out: 4 });
    expect(step("allow-training")).toMatchObject({ out: 18 });
    expect(step("roi")).toMatchObject({ out: 5 });
    expect(step("caption-only")).toMatchObject({
      out: 0,
      note: "12 posts without an image kept, caption only",
    });
    expect(report.kept.train + report.kept.val + report.kept.test).toBe(240 + 12);
    // the data preparation of the default preset, every step reported
    expect(report.preset).toBe("default");
    expect(report.steps.slice(5).map((s) => s.filter)).toEqual([
      "min-words",
      "reposts",
      "aliases",
      "blocklist",
      "min-tag-count",
      "max-hashtags",
      "min-post-hashtags",
    ]);
    const metrics = r.metrics as { selection: TrainingSelection; evaluation: Evaluation; engine: object };
    // model selection: each candidate trained and scored on validation, the best chosen, the blend tried on it
    const { selection } = metrics;
    expect(selection.candidates.map((c) => c.name)).toEqual(candidates.split(","));
    const best = Math.max(...selection.candidates.map((c) => c.score));
    const chosen = selection.candidates.find((c) => c.name === selection.chosen)!;
    expect(chosen.score).toBe(best);
    for (const c of selection.candidates) {
      expect(c.valHashtagFree).not.toBeNull();
      expect(c.score).toBeCloseTo((c.val["2"]!.f1 + c.valHashtagFree!["2"]!.f1) / 2, 10);
    }
    expect(selection.reason).toMatch(new RegExp(`^${selection.chosen} has the best validation F1@2`));
    expect(r.log).toContain(`chosen: ${selection.reason}`);
    if (chosen.architecture === "popularity") expect(selection.blend).toBeNull();
    else {
      expect(selection.blend).not.toBeNull();
      expect(r.log).toMatch(/neighbour blend: (kept|not kept)/);
    }
    expect(metrics.evaluation.candidate.id).toBe(v1.candidateId);
    expect(metrics.evaluation.active).toBeNull();
    expect(metrics.evaluation.popularity.hashtags[0]).toBe("love"); // on about 40% of posts, the rest on 25%
    // and again on the captions without any hashtag
    expect(metrics.evaluation.hashtagFree?.candidate.id).toBe(v1.candidateId);
    expect(metrics.evaluation.hashtagFree?.popularity.metrics).toEqual(metrics.evaluation.popularity.metrics);
    for (const k of ["1", "2", "3", "4", "5"]) {
      expect(metrics.evaluation.candidate.metrics[k]!.f1).toBeGreaterThanOrEqual(0);
      expect(metrics.evaluation.popularity.metrics[k]!.f1).toBeGreaterThan(0);
    }
    expect(metrics.engine).toHaveProperty("val");
    // the registry row carries the evaluation too
    const model = await h.repos.models.find(v1.candidateId);
    expect((model!.metrics as { evaluation: Evaluation }).evaluation.postsSha256).toBe(
      metrics.evaluation.postsSha256,
    );
    expect(r.log).toContain("== train");
    expect(r.log).toMatch(/epoch 1\/3 loss/);
    expect(r.log).toContain("training from scratch: no active model");
    expect(r.log).toContain("the same test posts, captions without any hashtag:");
    expect(Object.keys(r.timings as object)).toEqual(
      expect.arrayContaining(["labels", "dataset", "train", "evaluate", "activate"]),
    );
    expect(await row(h.repos, stale.id)).toMatchObject({
      state: "failed",
      error: "interrupted: its process ended before the run finished",
    });
  });

  it("is skipped while no new labels arrived, unless forced", async () => {
    const r = await runTraining(h.services, options());
    expect(r.state).toBe("skipped");
    if (r.state !== "skipped") return;
    expect(r.reason).toContain("0 new labeled posts and 0 new labels since the last successful run");
    expect(await row(h.repos, r.runId)).toMatchObject({
      state: "skipped",
      decision: { skipped: true, newPosts: 0, newLabels: 0 },
    });
    expect((await h.repos.models.active())?.id).toBe(v1.candidateId);
  });

  it("after human labels, warm-starts a candidate and compares it with the active model on the same test posts", async () => {
    // sunset posts gain #golden and lose their caption's #ocean (and #love, which some of them have)
    const corrected = (p: SeededPost) =>
      p.scene === 0 ? [...p.hashtags, "golden"].filter((t) => t !== "ocean" && t !== "love") : p.hashtags;
    for (const p of posts.filter((p) => p.scene === 0))
      await h.repos.labels.apply(p.id, ["golden"], ["ocean", "love"]);
    // the first run's choice, so it can warm-start
    const chosen = ((await row(h.repos, v1.runId)).metrics as { selection: TrainingSelection }).selection;
    const arch = chosen.candidates.find((c) => c.name === chosen.chosen)!.architecture;
    v2 = done(await runTraining(h.services, options({ candidates: arch })));
    expect(v2.previousModelId).toBe(v1.candidateId);
    expect(v2.warmStartFrom).toBe(v1.candidateId);
    expect(v2.evaluation.active?.id).toBe(v1.candidateId);
    // the split is stable: the same test posts as the first run's
    expect(v2.evaluation.postsSha256).toBe(v1.evaluation.postsSha256);
    // every true label counts: #golden (outside v1's outputs) included, the removed ones not
    const test = posts.filter(
      (p) => (p.kind === "image" || p.kind === "caption-only") && splitOf(p) === "test",
    );
    expect(v2.evaluation.posts).toBe(test.length);
    expect(v2.evaluation.labels).toBe(test.reduce((n, p) => n + corrected(p).length, 0));
    const manifest = (await h.repos.models.find(v2.candidateId))?.manifest as { hashtags: string[] };
    expect(manifest.hashtags).toContain("golden");
    expect(manifest.hashtags).not.toContain("ocean");

    const r = await row(h.repos, v2.runId);
    const decision = r.decision as unknown as GateDecision;
    expect(decision).toEqual(v2.decision);
    const [candidate, active] = [v2.evaluation.candidate, v2.evaluation.active!].map(
      (m) => m.metrics["2"]!.f1,
    );
    expect(decision.promote).toBe(candidate! > active!);
    expect((await h.repos.models.active())?.id).toBe(decision.promote ? v2.candidateId : v1.candidateId);
    expect(r.log).toContain(`warm start from the active model ${v1.candidateId}`);
    expect(r.log).toMatch(/warm start from .*init\.pt: \d+ of \d+ hashtags carried over, 1 new/);
  });

  it("keeps the active model when the candidate misses the margin, and refuses a concurrent run", async () => {
    const activeBefore = (await h.repos.models.active())!.id;
    const running = runTraining(h.services, options({ force: true, gateMargin: 2 }));
    // wait until the run holds the lock and its row exists
    let first: TrainingRun | undefined;
    for (let i = 0; i < 200 && !first; i++) {
      first = (await h.repos.trainingRuns.list(1)).find((x) => x.state === "running");
      if (!first) await new Promise((r) => setTimeout(r, 50));
    }
    expect(first).toBeDefined();
    const before = (await h.repos.trainingRuns.list()).map((x) => [x.id, x.state, x.stage]);
    await expect(runTraining(h.services, options({ force: true }))).rejects.toBeInstanceOf(
      TrainingRunInProgressError,
    );
    const after = (await h.repos.trainingRuns.list()).map((x) => [x.id, x.state]);
    expect(after).toEqual(before.map(([id, state]) => [id, state]));

    const v3 = done(await running);
    expect(v3.runId).toBe(first!.id);
    expect(v3.activated).toBe(false);
    expect(v3.decision).toMatchObject({ promote: false, margin: 2, k: 2, active: { id: activeBefore } });
    expect(v3.decision.reason).toContain("does not beat the active model's");
    expect((await h.repos.models.active())?.id).toBe(activeBefore);
    expect((await h.repos.models.find(v3.candidateId))?.state).toBe("candidate");
    const r = await row(h.repos, v3.runId);
    expect(r).toMatchObject({ state: "done", decision: { promote: false, margin: 2 } });
    expect(r.log).toContain("keep the active model: candidate F1@2");
  });

  it("marks a run whose engine fails as failed, with its error and log, and keeps the active model", async () => {
    const activeBefore = (await h.repos.models.active())!.id;
    const failing = { ...h.services, config: { ...h.services.config, LXTAG_PYTHON: "/bin/false" } };
    // a run a scheduler queued: this run carries it out
    const queued = await h.repos.trainingRuns.create({}, { state: "queued" });
    const err = await runTraining(failing, options({ force: true, runId: queued.id })).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ name: "TrainingRunFailedError", stage: "train", runId: queued.id });
    const r = await row(h.repos, queued.id);
    expect(r.state).toBe("failed");
    expect(r.stage).toBe("train");
    expect(r.error).toContain("lxtag_engine train exited with 1");
    expect(r.log).toContain("failed at train: lxtag_engine train exited with 1");
    expect(r.modelVersionId).toBeNull();
    expect((await h.repos.models.active())?.id).toBe(activeBefore);
  });

  it("stops its engine and fails at once when it loses the training lock mid-stage", async () => {
    // an engine that would train for a minute and a half
    const engine = join(await mkdtemp(join(tmpdir(), "lxtag-slow-engine-")), "python");
    await writeFile(engine, "#!/bin/sh\nexec sleep 93.25\n", { mode: 0o755 });
    const slow = { ...h.services, config: { ...h.services.config, LXTAG_PYTHON: engine } };
    const queued = await h.repos.trainingRuns.create({}, { state: "queued" });
    const running = runTraining(slow, options({ force: true, runId: queued.id })).catch((e: unknown) => e);
    await expect.poll(async () => (await row(h.repos, queued.id)).stage, { timeout: 60_000 }).toBe("train");
    await expect.poll(() => sleeping(), { timeout: 10_000 }).toBe(true);
    const lost = performance.now();
    // what a Postgres restart or a dropped network does to the lock's connection: Postgres releases the lock, and
    // another run could take it
    await h.db.pool.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
      [applicationName("training-run lock")],
    );
    const err = await running;
    expect(performance.now() - lost).toBeLessThan(20_000);
    expect(err).toMatchObject({ name: "TrainingRunFailedError", stage: "train", runId: queued.id });
    expect((err as Error).message).toContain("lost the training-run lock");
    expect(await sleeping()).toBe(false); // the engine was stopped, not left training beside the next run
    const r = await row(h.repos, queued.id);
    expect(r.state).toBe("failed");
    expect(r.error).toContain("lost the training-run lock");
  });

  it("passes over an active model a predict worker refused: compares with the version served in its place", async () => {
    // v2 active over v1 (whatever the gate decided for it), and refused by a worker
    await h.repos.models.activate(v1.candidateId);
    await h.repos.models.activate(v2.candidateId);
    await h.repos.models.refuse(v2.candidateId, "failed its warm-up run: out of memory");
    const run = options({ force: true, candidates: "popularity", gateMargin: 2 });
    const v4 = done(await runTraining(h.services, run));
    expect(v4.previousModelId).toBe(v2.candidateId); // the registry's active one, refused
    expect(v4.evaluation.active?.id).toBe(v1.candidateId);
    expect(v4.decision).toMatchObject({ promote: false, active: { id: v1.candidateId } });
    expect(v4.decision.reason).toMatch(
      new RegExp(
        `^a predict worker refused the active model ${v2.candidateId}; candidate F1@2 .* does not beat ${v1.candidateId}'s, the version served in its place,`,
      ),
    );
    expect((await row(h.repos, v4.runId)).log).toContain(
      `the active model ${v2.candidateId} was refused by a predict worker (failed its warm-up run: out of memory); ` +
        `the run compares with (and may warm-start from) ${v1.candidateId}, the newest activated version no worker refused`,
    );
    expect((await h.repos.models.active())?.id).toBe(v2.candidateId); // not promoted: nothing changed

    // v1 refused as well: no version serves, so the candidate has nothing to beat and serves
    await h.repos.models.refuse(v1.candidateId, "failed its warm-up run: out of memory");
    const v5 = done(await runTraining(h.services, run));
    expect(v5.previousModelId).toBe(v2.candidateId);
    expect(v5.evaluation.active).toBeNull();
    expect(v5.decision).toMatchObject({
      promote: true,
      active: null,
      reason: `a predict worker refused the active model ${v2.candidateId}; no version serves in its place`,
    });
    expect((await h.repos.models.active())?.id).toBe(v5.candidateId);
    expect((await h.repos.models.find(v2.candidateId))?.state).toBe("retired");
  });
});

describe("training run with too little data", () => {
  let h: Harness;
  beforeAll(async () => {
    // every hashtag an output: no post is filtered, whatever split the random images fall in
    h = await harness({ LXTAG_TRAIN_MIN_TAG_COUNT: "1" });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("fails with a message that says how many posts it had and how many it needs", async () => {
    await seedLabeledPosts(h.repos, h.services.store, {
      detectorId: h.services.config.LXTAG_DETECTOR_ID!,
      images: 10,
      postsPerImage: 1,
    });
    const err = await runTraining(h.services, options()).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "TrainingRunFailedError", stage: "filter" });
    const message = (err as Error).message;
    expect(message).toMatch(
      /too little data to train: 10 posts after the filters \(train \d+, val \d+, test \d+\)/,
    );
    expect(message).toContain("a run needs at least 50 posts");
    expect(message).toContain("only 10 labeled posts reached the filters");
    const r = await row(h.repos, (err as { runId: string }).runId);
    expect(r.state).toBe("failed");
    expect(r.error).toContain("10 posts after the filters");
    expect(await h.repos.models.active()).toBeNull();
  });
});

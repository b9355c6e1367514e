import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ProcessError } from "@lxtag/runtime";
import type { TrainerServices } from "../cli/services.js";
import { writeDataset } from "../dataset-writer.js";
import { detectorWeights, servingDetectorId } from "../detector-bundle.js";
import { publishModel } from "../publish.js";
import { dataPrepFilters } from "./data-prep/pipeline.js";
import { type Evaluation, evaluateModels } from "./evaluate.js";
import { applyFilters, assertEnoughData, type FilterReport } from "./filters.js";
import { checkFreshness } from "./freshness.js";
import { decide, type GateDecision } from "./gate.js";
import { collectExamples } from "./labels.js";
import { acquireRunLock } from "./lock.js";
import { KS } from "./metrics.js";
import { trainAndSelect } from "./model-selection.js";
import { readRois } from "./roi.js";
import { RunLog } from "./run-log.js";
import { fetchServingModel } from "./serving-model.js";
import { type TrainingSettings, trainingSettings } from "./settings.js";
import { splitExamples, splitSizes } from "./split.js";
import { resolveTokenizer } from "./tokenizer.js";
import { pruneWorkFolders } from "./work-folders.js";

export interface TrainingRunOptions extends Partial<TrainingSettings> {
  /** Train even when too little new data arrived since the last successful run. @defaultValue false */
  force?: boolean;
  /** Train from scratch even when the active model could warm-start the candidate. @defaultValue false */
  scratch?: boolean;
  /** A queued run (created by a scheduler or the API) to carry out; unset: a new run row. */
  runId?: string;
  /** Every line of the run's log as it is written (the CLI prints them). */
  onLog?: (line: string) => void;
}

export interface SkippedTrainingRun {
  runId: string;
  state: "skipped";
  reason: string;
}

export interface DoneTrainingRun {
  runId: string;
  state: "done";
  /** The model version the run trained and registered. */
  candidateId: string;
  /** Whether the gate made it the serving model. */
  activated: boolean;
  /**
   * The registry's active version when the run started. The candidate was compared with it, unless a predict worker
   * had refused it: then with `evaluation.active`, the version served in its place (if any).
   */
  previousModelId: string | null;
  /** The model the candidate was warm-started from; null: trained from scratch. */
  warmStartFrom: string | null;
  decision: GateDecision;
  evaluation: Evaluation;
  filterReport: FilterReport;
  dataset: { id: string; train: number; val: number; test: number; hashtags: number };
  seconds: number;
}

export type TrainingRunResult = SkippedTrainingRun | DoneTrainingRun;

/** A run failed at `stage`: its row says so, with the error and its log tail; nothing it made was activated. */
export class TrainingRunFailedError extends Error {
  override name = "TrainingRunFailedError";
  constructor(
    readonly runId: string,
    readonly stage: string,
    override readonly cause: unknown,
  ) {
    super(`training run ${runId} failed at ${stage}: ${errorText(cause)}`, { cause });
  }
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
const STDERR_LINES = 20;

/**
 * One training run from the labeled rows, end to end: lock, skip check, labels, split, filters, tokenizer,
 * dataset shards, training (the engine), evaluation of candidate and active model on the same test posts, the
 * gate, publish, and activation last. The run's row is written at its start and at every stage.
 *
 * Throws `TrainingRunInProgressError` (nothing written) while another run holds the lock, `TrainingSettingsError`
 * for bad overrides, and `TrainingRunFailedError` (the row marked failed) when a stage fails.
 */
export async function runTraining(
  services: TrainerServices,
  options: TrainingRunOptions = {},
): Promise<TrainingRunResult> {
  const { config, repos } = services;
  const { force = false, scratch = false, runId, onLog, ...overrides } = options;
  const settings = trainingSettings(config, overrides);
  const lock = await acquireRunLock(config.DATABASE_URL);
  try {
    // the lock is ours, so a run still marked running lost its process
    await repos.trainingRuns.failInterrupted("interrupted: its process ended before the run finished");
    const params = { ...settings, force, scratch };
    const run = runId
      ? await repos.trainingRuns.start(runId, params)
      : await repos.trainingRuns.create(params);
    if (!run) throw new Error(`training run ${runId} is not queued`);
    const log = new RunLog(repos, run.id, onLog);
    const started = performance.now();
    const workDirs = join(config.LXTAG_CACHE_DIR, "training");
    // failed runs' folders, the newest kept; this run's own is not there yet
    const pruned = await pruneWorkFolders(workDirs, config.LXTAG_TRAIN_KEEP_FAILED).catch((e: unknown) => {
      log.line(`could not remove earlier runs' work folders: ${errorText(e)}`);
      return [];
    });
    if (pruned.length)
      log.line(`removed ${pruned.length} work folders of earlier failed runs (LXTAG_TRAIN_KEEP_FAILED)`);
    const timings: Record<string, number> = {};
    let stage = "start";
    let stageStarted = started;
    const enter = async (next: string) => {
      lock.signal.throwIfAborted(); // "lost the training-run lock: ...", as the engine's stop says
      const now = performance.now();
      timings[stage] = Math.round(now - stageStarted) / 1000;
      stage = next;
      stageStarted = now;
      log.line(`== ${next}`);
      await log.flush();
      await repos.trainingRuns.stage(run.id, next, timings);
    };
    const workDir = join(workDirs, run.id);
    log.line(`training run ${run.id}`);
    try {
      const result = await execute(services, {
        runId: run.id,
        settings,
        force,
        scratch,
        log,
        enter,
        workDir,
        signal: lock.signal,
      });
      timings[stage] = Math.round(performance.now() - stageStarted) / 1000;
      const seconds = Math.round(performance.now() - started) / 1000;
      log.line(`run ${run.id} ${result.state} in ${seconds.toFixed(1)} s`);
      await log.flush();
      await repos.trainingRuns.finish(run.id, result.state, { timings });
      // the shards hold every post's features: gone once the run succeeded (a failed run's stay, to look into)
      await rm(workDir, { recursive: true, force: true }).catch((e) =>
        onLog?.(`could not remove the work folder ${workDir}: ${errorText(e)}`),
      );
      return result.state === "done" ? { ...result, seconds } : result;
    } catch (err) {
      timings[stage] = Math.round(performance.now() - stageStarted) / 1000;
      log.line(`failed at ${stage}: ${errorText(err)}`);
      if (err instanceof ProcessError)
        for (const line of err.stderr.trim().split("\n").slice(-STDERR_LINES)) log.line(`  stderr: ${line}`);
      log.line(`work folder kept: ${workDir}`);
      await log.flush().catch(() => {});
      // if even this write fails (the database is gone), the next run marks this one interrupted
      await repos.trainingRuns
        .finish(run.id, "failed", { error: errorText(err).slice(0, 4000), timings })
        .catch((e) => onLog?.(`could not record the failure: ${errorText(e)}`));
      throw new TrainingRunFailedError(run.id, stage, err);
    }
  } finally {
    await lock.release();
  }
}

interface RunContext {
  runId: string;
  settings: TrainingSettings;
  force: boolean;
  scratch: boolean;
  log: RunLog;
  enter: (stage: string) => Promise<void>;
  workDir: string;
  /** Aborted when the run loses its lock: the engine stops rather than train beside another run. */
  signal: AbortSignal;
}

const f1Line = (name: string, metrics: Evaluation["candidate"]["metrics"]) =>
  `${name.padEnd(28)} ${KS.map((k) => `F1@${k} ${metrics[String(k)]!.f1.toFixed(3)}`).join("  ")}`;

async function execute(
  { config, repos, store }: TrainerServices,
  { runId, settings, force, scratch, log, enter, workDir, signal }: RunContext,
): Promise<Omit<DoneTrainingRun, "seconds"> | SkippedTrainingRun> {
  await enter("skip-check");
  if (force) log.line("forced: trains whatever arrived since the last run");
  else {
    const fresh = await checkFreshness(repos, settings.minNewLabels);
    if (fresh.skipReason) {
      log.line(`skipped: ${fresh.skipReason}`);
      await repos.trainingRuns.update(runId, {
        decision: { skipped: true, reason: fresh.skipReason, newPosts: fresh.posts, newLabels: fresh.labels },
      });
      return { runId, state: "skipped", reason: fresh.skipReason };
    }
    log.line(
      fresh.since
        ? `${fresh.posts} new labeled posts and ${fresh.labels} new labels since ${fresh.since.toISOString()}`
        : "first run",
    );
  }

  await enter("labels");
  const detectorId = await servingDetectorId(store, config);
  const { active: registryActive, serving: active } = await fetchServingModel(
    repos,
    store,
    config.LXTAG_CACHE_DIR,
  );
  const refused = registryActive?.refusedAt ? registryActive : null;
  log.line(`serving detector ${detectorId}; active model ${registryActive?.id ?? "none"}`);
  if (refused)
    log.line(
      `the active model ${refused.id} was refused by a predict worker (${refused.refusedReason ?? ""}); ` +
        (active
          ? `the run compares with (and may warm-start from) ${active.id}, the newest activated version no worker refused`
          : "no version activated before it serves: the run starts from scratch, with nothing to beat"),
    );
  if (active && active.manifest.detector !== detectorId)
    log.line(
      `the active model was trained on features of ${active.manifest.detector}; both are tested on ${detectorId}'s`,
    );
  const { examples, steps } = await collectExamples(repos, store, {
    detectorId,
    captionOnly: settings.captionOnly,
    signal,
  });
  log.line(`${examples.length} labeled posts`);

  await enter("split");
  const splits = splitExamples(examples);
  const split = splitSizes(splits);
  log.line(`train ${split.train} / val ${split.val} / test ${split.test} (8:1:1 by image or post id hash)`);

  await enter("filter");
  log.line(`data preparation: preset ${settings.dataPreset} (LXTAG_TRAIN_PRESET_DATA)`);
  const filtered = applyFilters(splits, await dataPrepFilters(settings));
  const filterReport: FilterReport = {
    steps: [...steps, ...filtered.steps],
    split,
    kept: splitSizes(filtered.splits),
    hashtags: filtered.hashtags.length,
    preset: settings.dataPreset,
  };
  await repos.trainingRuns.update(runId, { filterReport });
  for (const s of filterReport.steps)
    log.line(
      `${s.filter.padEnd(26)} posts ${s.in} in, ${s.out} out` +
        (s.hashtagsIn === undefined ? "" : `; hashtags ${s.hashtagsIn} in, ${s.hashtagsOut} out`) +
        (s.note ? ` (${s.note})` : ""),
    );
  assertEnoughData(filterReport, settings.minPosts);
  const { train, val, test } = filtered.splits;
  log.line(`${train.length + val.length + test.length} posts, ${filtered.hashtags.length} hashtags`);

  await enter("tokenizer");
  const tokenizer = await resolveTokenizer({
    active,
    trainTexts: train.map((e) => e.text),
    vocabSize: settings.vocabSize,
    dir: workDir,
  });
  log.line(`tokenizer ${tokenizer.sha256.slice(0, 12)} (${tokenizer.vocabSize} tokens): ${tokenizer.source}`);

  await enter("dataset");
  const meta = await writeDataset(join(workDir, "dataset"), filtered.splits, {
    hashtags: filtered.hashtags,
    tokenizerPath: tokenizer.path,
    detectorId,
    filters: filterReport,
    signal,
    rois: (chunk) =>
      readRois(
        store,
        detectorId,
        chunk.map((e) => e.imageSha256),
      ),
  });
  await repos.trainingRuns.update(runId, { datasetId: meta.id });
  log.line(`dataset ${meta.id}: ${meta.splits.train} / ${meta.splits.val} / ${meta.splits.test} posts`);

  await enter("train");
  const { chosen: candidate, selection } = await trainAndSelect({
    config,
    store,
    settings,
    active,
    tokenizer,
    scratch,
    workDir,
    detectorId,
    detectorWeights: await detectorWeights(store, detectorId),
    log,
    signal,
  });
  await repos.trainingRuns.update(runId, { metrics: { selection } });
  log.line(`candidate ${candidate.manifest.id}`);

  await enter("evaluate");
  const evaluation = await evaluateModels({
    store,
    detectorId,
    test,
    candidateDir: candidate.dir,
    activeDir: active?.dir ?? null,
    popularity: filtered.hashtags,
    signal,
  });
  const metrics = { selection, evaluation, engine: candidate.manifest.metrics };
  await repos.trainingRuns.update(runId, { metrics });
  log.line(`${evaluation.posts} test posts, ${evaluation.labels} true labels`);
  log.line(f1Line(`candidate ${evaluation.candidate.id}`, evaluation.candidate.metrics));
  if (evaluation.active) log.line(f1Line(`active ${evaluation.active.id}`, evaluation.active.metrics));
  log.line(f1Line("popularity baseline", evaluation.popularity.metrics));
  if (evaluation.hashtagFree) {
    const free = evaluation.hashtagFree;
    log.line("the same test posts, captions without any hashtag:");
    log.line(f1Line(`candidate ${free.candidate.id}`, free.candidate.metrics));
    if (free.active) log.line(f1Line(`active ${free.active.id}`, free.active.metrics));
    log.line(f1Line("popularity baseline", free.popularity.metrics));
  }

  await enter("gate");
  const decision = decide(evaluation, { k: settings.gateK, margin: settings.gateMargin }, refused?.id);
  await repos.trainingRuns.update(runId, { decision });
  log.line(`${decision.promote ? "promote" : "keep the active model"}: ${decision.reason}`);

  await enter("publish");
  // the registry row carries the evaluation too: the manifest's metrics are what `register` stores
  const manifestPath = join(candidate.dir, "manifest.json");
  const raw = JSON.parse(await readFile(manifestPath, "utf8"));
  raw.metrics = { ...raw.metrics, evaluation };
  await writeFile(manifestPath, JSON.stringify(raw, null, 2));
  const manifest = await publishModel(store, repos, candidate.dir, { checkpoint: candidate.checkpoint });
  await repos.trainingRuns.update(runId, { modelVersionId: manifest.id });
  log.line(`published ${manifest.id} (candidate)`);

  if (decision.promote) {
    await enter("activate");
    await repos.models.activate(manifest.id);
    log.line(`activated ${manifest.id}`);
  }
  return {
    runId,
    state: "done",
    candidateId: manifest.id,
    activated: decision.promote,
    previousModelId: registryActive?.id ?? null,
    warmStartFrom: candidate.plan.init ? (active?.id ?? null) : null,
    decision,
    evaluation,
    filterReport,
    dataset: { id: meta.id, ...meta.splits, hashtags: meta.hashtags.length },
  };
}

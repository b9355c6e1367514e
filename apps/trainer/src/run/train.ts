import { copyFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ModelManifest, modelManifestSchema, rankingMetricsSchema } from "@lxtag/contracts";
import type { TrainerConfig } from "../config.js";
import { runEngine } from "../engine.js";
import type { CandidateScores, CandidateSpec } from "./candidates.js";
import type { TrainingSettings } from "./settings.js";
import type { ModelPlan } from "./warm-start.js";

type EngineConfig = Pick<TrainerConfig, "LXTAG_PYTHON" | "OMP_NUM_THREADS" | "OPENBLAS_NUM_THREADS">;

/** The engine's output: a bundle folder (its tokenizer added), the manifest as the engine wrote it, the
 * checkpoint that trained it, and its validation scores (the best epoch's). */
export interface Candidate {
  spec: CandidateSpec;
  dir: string;
  manifest: ModelManifest;
  checkpoint: string;
  scores: CandidateScores;
  /** How it started (from scratch, or warm from the active model). */
  plan: ModelPlan;
}

export type TrainSettings = Pick<
  TrainingSettings,
  "preset" | "epochs" | "lr" | "batchSize" | "patience" | "maskShare" | "linearLr"
>;

/** The engine's `train` arguments of one candidate: its architecture, loss and masking, and what suits it. */
export function trainArgs(
  spec: CandidateSpec,
  plan: ModelPlan,
  settings: TrainSettings,
  paths: { datasetDir: string; outDir: string },
): string[] {
  // a linear layer over TF-IDF learns slowly at a transformer's rate; popularity's prior is fitted from the
  // labels before the first step, so one epoch is all it needs
  const lr = spec.arch === "linear" ? settings.linearLr : settings.lr;
  const epochs = spec.arch === "popularity" ? 1 : settings.epochs;
  return [
    ...["train", "--data", paths.datasetDir, "--out", paths.outDir, "--arch", spec.arch],
    ...["--preset", settings.preset, "--config", JSON.stringify(plan.config)],
    ...["--epochs", String(epochs), "--batch-size", String(settings.batchSize)],
    ...["--lr", String(lr), "--patience", String(settings.patience)],
    ...["--loss", spec.loss, "--select-on", "both"],
    ...["--mask-share", String(spec.mask ? settings.maskShare : 0)],
    ...(plan.init ? ["--init", plan.init] : []),
  ];
}

/** The validation scores the engine stored in a manifest (`metrics.val`, `metrics.val_notags`). */
export function validationScores(manifest: ModelManifest): CandidateScores {
  const val = rankingMetricsSchema.safeParse(manifest.metrics.val);
  if (!val.success) throw new Error(`${manifest.id}: the engine stored no validation metrics`);
  const free = rankingMetricsSchema.safeParse(manifest.metrics.val_notags);
  return { val: val.data, valHashtagFree: free.success ? free.data : null };
}

async function bundle(
  from: Pick<Candidate, "spec" | "plan" | "checkpoint">,
  dir: string,
  tokenizerPath: string,
): Promise<Candidate> {
  await copyFile(tokenizerPath, join(dir, "tokenizer.json"));
  const manifest = modelManifestSchema.parse(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
  return { ...from, dir, manifest, scores: validationScores(manifest) };
}

/**
 * Trains one candidate with the engine (`train`: best validation epoch kept by the mean F1@2 of both caption
 * variants, early stopping, ONNX export), each progress line passed to `onLine`, then puts the run's tokenizer in
 * its bundle folder so it loads as served.
 */
export async function trainCandidate(
  config: EngineConfig,
  options: {
    spec: CandidateSpec;
    datasetDir: string;
    outDir: string;
    plan: ModelPlan;
    settings: TrainSettings;
    tokenizerPath: string;
    onLine: (line: string) => void;
    signal?: AbortSignal;
  },
): Promise<Candidate> {
  const { outDir } = options;
  await runEngine(config, trainArgs(options.spec, options.plan, options.settings, options), {
    onLine: options.onLine,
    signal: options.signal,
  });
  const from = { spec: options.spec, plan: options.plan, checkpoint: join(outDir, "checkpoint.pt") };
  return bundle(from, outDir, options.tokenizerPath);
}

/** What the engine's `blend` decided: the weight and neighbours chosen on validation, and whether it helps. */
export interface BlendResult {
  kept: boolean;
  weight: number;
  k: number;
  valF1At2Without: number;
  valF1At2With: number;
}

/**
 * The engine's neighbour blend of a trained candidate (its scores mixed with the labels of its nearest training
 * posts in its `pooled` space, weight and neighbours chosen on validation). Returns the blended candidate when the
 * engine kept the blend (it helps on validation), else null; either way what it measured.
 */
export async function blendCandidate(
  config: EngineConfig,
  candidate: Candidate,
  options: {
    datasetDir: string;
    outDir: string;
    detectorId: string;
    tokenizerPath: string;
    signal?: AbortSignal;
  },
): Promise<{ blended: Candidate | null; result: BlendResult }> {
  const stdout = await runEngine(
    config,
    [
      ...["blend", "--data", options.datasetDir, "--checkpoint", candidate.checkpoint],
      ...["--out", options.outDir, "--detector", options.detectorId],
    ],
    { signal: options.signal },
  );
  const line = JSON.parse(stdout.trim().split("\n").at(-1)!);
  const result: BlendResult = {
    kept: Boolean(line.kept),
    weight: Number(line.weight),
    k: Number(line.k),
    valF1At2Without: Number(line.val_f1_at_2_without),
    valF1At2With: Number(line.val_f1_at_2_with),
  };
  if (!result.kept) return { blended: null, result };
  // the blended graph wraps the candidate's: warm starts and later blends grow from the candidate's checkpoint
  const blended = await bundle(candidate, options.outDir, options.tokenizerPath);
  return { blended, result };
}

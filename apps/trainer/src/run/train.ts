import { copyFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ModelManifest, modelManifestSchema } from "@lxtag/contracts";
import type { TrainerConfig } from "../config.js";
import { runEngine } from "../engine.js";
import type { TrainingSettings } from "./settings.js";
import type { ModelPlan } from "./warm-start.js";

/** The engine's output: a bundle folder (its tokenizer added), the manifest as the engine wrote it, and the
 * checkpoint that trained it. */
export interface Candidate {
  dir: string;
  manifest: ModelManifest;
  checkpoint: string;
}

/**
 * Trains a candidate with the engine (`train`: best validation F1@2 kept, early stopping, ONNX export), each
 * progress line passed to `onLine`, then puts the run's tokenizer in its bundle folder so it loads as served.
 */
export async function trainCandidate(
  config: Pick<TrainerConfig, "LXTAG_PYTHON" | "OMP_NUM_THREADS" | "OPENBLAS_NUM_THREADS">,
  options: {
    datasetDir: string;
    outDir: string;
    plan: ModelPlan;
    settings: Pick<TrainingSettings, "preset" | "epochs" | "lr" | "batchSize" | "patience">;
    tokenizerPath: string;
    onLine: (line: string) => void;
  },
): Promise<Candidate> {
  const { plan, settings, outDir } = options;
  await runEngine(
    config,
    [
      ...["train", "--data", options.datasetDir, "--out", outDir, "--arch", plan.arch],
      ...["--preset", settings.preset, "--config", JSON.stringify(plan.config)],
      ...["--epochs", String(settings.epochs), "--batch-size", String(settings.batchSize)],
      ...["--lr", String(settings.lr), "--patience", String(settings.patience)],
      ...(plan.init ? ["--init", plan.init] : []),
    ],
    { onLine: options.onLine },
  );
  await copyFile(options.tokenizerPath, join(outDir, "tokenizer.json"));
  const manifest = modelManifestSchema.parse(
    JSON.parse(await readFile(join(outDir, "manifest.json"), "utf8")),
  );
  return { dir: outDir, manifest, checkpoint: join(outDir, "checkpoint.pt") };
}

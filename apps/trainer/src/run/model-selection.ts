import { join } from "node:path";
import type { TrainingSelection } from "@lxtag/contracts";
import type { ObjectStore } from "@lxtag/storage";
import type { TrainerConfig } from "../config.js";
import { parseCandidates, selectCandidate, selectionScore } from "./candidates.js";
import type { RunLog } from "./run-log.js";
import type { ServingModel } from "./serving-model.js";
import type { TrainingSettings } from "./settings.js";
import type { RunTokenizer } from "./tokenizer.js";
import { blendCandidate, type Candidate, trainCandidate } from "./train.js";
import { planModel } from "./warm-start.js";

const f1s = (m: Candidate["scores"]["val"]) =>
  [1, 2, 3, 4, 5].map((k) => (m[String(k)]?.f1 ?? 0).toFixed(3)).join(" ");

/**
 * The run's train stage: trains every candidate of the settings' list (each warm-started from the active model
 * where it can be), weighs them on the validation posts, keeps the best, and tries the neighbour blend on it. The
 * test posts are not looked at here: the evaluate stage compares the chosen candidate with the active model on
 * them, at equal footing.
 */
export async function trainAndSelect(options: {
  config: TrainerConfig;
  store: ObjectStore;
  settings: TrainingSettings;
  active: ServingModel | null;
  tokenizer: RunTokenizer;
  scratch: boolean;
  workDir: string;
  detectorId: string;
  /** What the serving detector's weights are (`random`...): the report says why an image-blind model may win. */
  detectorWeights: string | null;
  log: RunLog;
  /** Stops the engine when aborted: the run lost its lock, and another may start. */
  signal?: AbortSignal;
}): Promise<{ chosen: Candidate; selection: TrainingSelection }> {
  const { config, settings, log, workDir } = options;
  const datasetDir = join(workDir, "dataset");
  const specs = parseCandidates(settings.candidates, settings.loss);
  log.line(`candidates: ${specs.map((s) => s.name).join(", ")}`);
  const trained: (Candidate & { seconds: number })[] = [];
  for (const [i, spec] of specs.entries()) {
    const started = performance.now();
    const plan = await planModel({ ...options, arch: spec.arch, workDir });
    log.line(`-- candidate ${spec.name}: ${plan.note}`);
    const candidate = await trainCandidate(config, {
      spec,
      datasetDir,
      outDir: join(workDir, "candidates", String(i)),
      plan,
      settings,
      tokenizerPath: options.tokenizer.path,
      onLine: (line) => log.line(`  ${line}`),
      signal: options.signal,
    });
    const seconds = Math.round(performance.now() - started) / 1000;
    trained.push({ ...candidate, seconds });
    log.line(
      `   ${spec.name}: val F1@1..5 ${f1s(candidate.scores.val)}` +
        (candidate.scores.valHashtagFree ? `; hashtag-free ${f1s(candidate.scores.valHashtagFree)}` : "") +
        ` (${seconds.toFixed(1)} s)`,
    );
  }
  const { chosen, reason } = selectCandidate(trained, {
    k: settings.gateK,
    detectorWeights: options.detectorWeights,
  });
  log.line(`chosen: ${reason}`);

  let blend: TrainingSelection["blend"] = null;
  let serving: Candidate = chosen;
  if (settings.blend && chosen.spec.arch !== "popularity") {
    const { blended, result } = await blendCandidate(config, chosen, {
      datasetDir,
      outDir: join(workDir, "blended"),
      detectorId: options.detectorId,
      tokenizerPath: options.tokenizer.path,
      signal: options.signal,
    });
    blend = result;
    log.line(
      `neighbour blend: ${result.kept ? "kept" : "not kept"} (weight ${result.weight}, ${result.k} neighbours; ` +
        `val F1@2 ${result.valF1At2Without.toFixed(4)} without, ${result.valF1At2With.toFixed(4)} with)`,
    );
    if (blended) serving = blended;
  }
  const selection: TrainingSelection = {
    k: settings.gateK,
    candidates: trained.map((t) => ({
      name: t.spec.name,
      architecture: t.spec.arch,
      loss: t.spec.loss,
      mask: t.spec.mask,
      modelId: t.manifest.id,
      val: t.scores.val,
      valHashtagFree: t.scores.valHashtagFree,
      score: selectionScore(t.scores, settings.gateK),
      seconds: t.seconds,
    })),
    chosen: chosen.spec.name,
    reason,
    blend,
  };
  return { chosen: serving, selection };
}

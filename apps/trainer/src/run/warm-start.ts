import { join } from "node:path";
import type { ObjectStore } from "@lxtag/storage";
import { trainingCheckpointKey } from "../publish.js";
import type { ServingModel } from "./serving-model.js";
import type { TrainingSettings } from "./settings.js";
import type { RunTokenizer } from "./tokenizer.js";

/** How the candidate starts: its architecture and model config, and the checkpoint it grows from, if any. */
export interface ModelPlan {
  arch: string;
  /** The engine's `--config`: the active model's whole config for a warm start, else the preset's overrides. */
  config: Record<string, unknown>;
  /** Local checkpoint for `train --init`; null: from scratch. */
  init: string | null;
  /** Why, for the log. */
  note: string;
}

/**
 * Warm start from the active model when that is possible: same architecture, the same tokenizer (its ids index
 * the model's embeddings) and its training checkpoint published beside it. The engine's `--init` then carries the
 * encoder and the head rows of known hashtags over, and grows the head for new ones. The candidate keeps the
 * active model's size; the preset applies to models trained from scratch.
 */
export async function planModel(options: {
  store: ObjectStore;
  active: ServingModel | null;
  tokenizer: RunTokenizer;
  /** The candidate's architecture. */
  arch: string;
  settings: Pick<TrainingSettings, "modelConfig">;
  /** Train from scratch even when a warm start is possible. */
  scratch: boolean;
  workDir: string;
}): Promise<ModelPlan> {
  const { active, arch, settings, tokenizer } = options;
  const scratch = (why: string): ModelPlan => ({
    arch,
    config: { ...settings.modelConfig, vocab_size: tokenizer.vocabSize },
    init: null,
    note: `training from scratch: ${why}`,
  });
  if (!active) return scratch("no active model");
  if (options.scratch) return scratch("asked to (--scratch)");
  if (active.manifest.architecture !== arch)
    return scratch(`the active model ${active.id} is ${active.manifest.architecture}, not ${arch}`);
  const vocab = Number(active.manifest.config.vocab_size);
  if (tokenizer.modelId !== active.id || !(vocab >= tokenizer.vocabSize))
    return scratch(`the tokenizer is not the active model's (${tokenizer.source})`);
  const key = trainingCheckpointKey(active.id);
  if (!(await options.store.exists(key)))
    return scratch(`no training checkpoint of ${active.id} at ${key} (published before runs kept one)`);
  const init = join(options.workDir, "init.pt");
  await options.store.download(key, init);
  return {
    arch: active.manifest.architecture,
    config: active.manifest.config,
    init,
    note: `warm start from the active model ${active.id} (its config, encoder and the head rows of its hashtags)`,
  };
}

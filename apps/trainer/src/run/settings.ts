import { z } from "zod";
import type { TrainerConfig } from "../config.js";
import { CandidateSpecError, LOSSES, parseCandidates } from "./candidates.js";
import { DATA_PRESET_NAMES, REPOST_MODES } from "./data-prep/presets.js";

/**
 * What one training run uses: the trainer's configuration (where every default is stated, with why), with the
 * run's own overrides on top. The same ranges as the configuration, checked again because overrides come from
 * callers (the CLI's flags, later a scheduler or the API).
 */
export const trainingSettingsSchema = z.object({
  // model selection (run/candidates.ts)
  candidates: z.string(),
  loss: z.enum(LOSSES),
  maskShare: z.number().min(0).max(1),
  blend: z.boolean(),
  linearLr: z.number().positive(),
  preset: z.enum(["tiny", "base"]),
  modelConfig: z.record(z.string(), z.unknown()),
  epochs: z.number().int().min(1),
  lr: z.number().positive(),
  batchSize: z.number().int().min(1),
  patience: z.number().int().min(1),
  vocabSize: z.number().int().min(100),
  // the data stage: a preset, and each of its values overridden where set (run/data-prep/presets.ts)
  dataPreset: z.enum(DATA_PRESET_NAMES),
  minWords: z.number().int().min(0).optional(),
  dedupReposts: z.enum(REPOST_MODES).optional(),
  pluralAliases: z.boolean().optional(),
  blockCities: z.boolean().optional(),
  minTagCount: z.number().int().min(1).optional(),
  maxHashtags: z.number().int().min(1).optional(),
  minPostHashtags: z.number().int().min(0).optional(),
  minPostHashtagsSplits: z.enum(["train", "all"]).optional(),
  aliasesFile: z.string().min(1).optional(),
  blocklistFiles: z.array(z.string().min(1)),
  minPosts: z.number().int().min(3),
  captionOnly: z.boolean(),
  minNewLabels: z.number().int().min(0),
  gateK: z.number().int().min(1).max(5),
  gateMargin: z.number().min(0),
});
export type TrainingSettings = z.infer<typeof trainingSettingsSchema>;

export class TrainingSettingsError extends Error {
  override name = "TrainingSettingsError";
}

export function trainingSettings(
  config: TrainerConfig,
  overrides: Partial<TrainingSettings> = {},
): TrainingSettings {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const r = trainingSettingsSchema.safeParse({
    candidates: config.LXTAG_TRAIN_CANDIDATES,
    loss: config.LXTAG_TRAIN_LOSS,
    maskShare: config.LXTAG_TRAIN_MASK_SHARE,
    blend: config.LXTAG_TRAIN_BLEND,
    linearLr: config.LXTAG_TRAIN_LINEAR_LR,
    preset: config.LXTAG_TRAIN_PRESET,
    modelConfig: config.LXTAG_TRAIN_MODEL_CONFIG,
    epochs: config.LXTAG_TRAIN_EPOCHS,
    lr: config.LXTAG_TRAIN_LR,
    batchSize: config.LXTAG_TRAIN_BATCH_SIZE,
    patience: config.LXTAG_TRAIN_PATIENCE,
    vocabSize: config.LXTAG_TRAIN_VOCAB_SIZE,
    dataPreset: config.LXTAG_TRAIN_PRESET_DATA,
    minWords: config.LXTAG_TRAIN_MIN_WORDS,
    dedupReposts: config.LXTAG_TRAIN_DEDUP_REPOSTS,
    pluralAliases: config.LXTAG_TRAIN_PLURAL_ALIASES,
    blockCities: config.LXTAG_TRAIN_BLOCK_CITIES,
    minTagCount: config.LXTAG_TRAIN_MIN_TAG_COUNT,
    maxHashtags: config.LXTAG_TRAIN_MAX_HASHTAGS,
    minPostHashtags: config.LXTAG_TRAIN_MIN_POST_HASHTAGS,
    minPostHashtagsSplits: config.LXTAG_TRAIN_MIN_POST_HASHTAGS_SPLITS,
    aliasesFile: config.LXTAG_TRAIN_ALIASES,
    blocklistFiles: config.LXTAG_TRAIN_BLOCKLIST,
    minPosts: config.LXTAG_TRAIN_MIN_POSTS,
    captionOnly: config.LXTAG_TRAIN_CAPTION_ONLY,
    minNewLabels: config.LXTAG_TRAIN_MIN_NEW_LABELS,
    gateK: config.LXTAG_TRAIN_GATE_K,
    gateMargin: config.LXTAG_TRAIN_GATE_MARGIN,
    ...defined,
  });
  if (!r.success)
    throw new TrainingSettingsError(
      `invalid training settings: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  try {
    parseCandidates(r.data.candidates, r.data.loss);
  } catch (err) {
    if (err instanceof CandidateSpecError)
      throw new TrainingSettingsError(`invalid training settings: candidates: ${err.message}`);
    throw err;
  }
  return r.data;
}

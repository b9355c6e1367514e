import { z } from "zod";
import type { TrainerConfig } from "../config.js";

/**
 * What one training run uses: the trainer's configuration (where every default is stated, with why), with the
 * run's own overrides on top. The same ranges as the configuration, checked again because overrides come from
 * callers (the CLI's flags, later a scheduler or the API).
 */
export const trainingSettingsSchema = z.object({
  arch: z.enum(["lxmert4hashtag", "concat", "text-only"]),
  preset: z.enum(["tiny", "base"]),
  modelConfig: z.record(z.string(), z.unknown()),
  epochs: z.number().int().min(1),
  lr: z.number().positive(),
  batchSize: z.number().int().min(1),
  patience: z.number().int().min(1),
  vocabSize: z.number().int().min(100),
  minTagCount: z.number().int().min(1),
  maxHashtags: z.number().int().min(1),
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
    arch: config.LXTAG_TRAIN_ARCH,
    preset: config.LXTAG_TRAIN_PRESET,
    modelConfig: config.LXTAG_TRAIN_MODEL_CONFIG,
    epochs: config.LXTAG_TRAIN_EPOCHS,
    lr: config.LXTAG_TRAIN_LR,
    batchSize: config.LXTAG_TRAIN_BATCH_SIZE,
    patience: config.LXTAG_TRAIN_PATIENCE,
    vocabSize: config.LXTAG_TRAIN_VOCAB_SIZE,
    minTagCount: config.LXTAG_TRAIN_MIN_TAG_COUNT,
    maxHashtags: config.LXTAG_TRAIN_MAX_HASHTAGS,
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
  return r.data;
}

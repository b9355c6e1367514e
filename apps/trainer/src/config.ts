import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { z } from "zod";
import { DATA_PRESET_NAMES, REPOST_MODES } from "./run/data-prep/presets.js";

/** An optional setting where an empty value means unset (so `VAR=` in an env file falls back to the preset). */
const unset = <S extends z.ZodType>(schema: S) =>
  z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

const trainerEnvSchema = serviceEnvSchema.extend({
  /** Python with torch, torchvision and onnx: Debian's python3-* packages live under /usr/bin/python3, and the
   * first python3 on PATH may be another interpreter without them. */
  LXTAG_PYTHON: z.string().default("/usr/bin/python3"),
  /** `pytorch_model.bin` of unc-nlp/frcnn-vg-finetuned: the first detector lxtag provisions imports it (ResNet-101).
   * Unset: the tiny Faster R-CNN with random weights, so the pipeline runs offline. */
  LXTAG_DETECTOR_CHECKPOINT: z.string().optional(),
  /** PyTorch threads in the engine. */
  OMP_NUM_THREADS: z.string().default("2"),
  /** OpenBLAS threads in the engine: Debian's pthread OpenBLAS otherwise starts its own threads inside every
   * PyTorch thread, which made a tiny model's training step 3.5x slower (248 vs 69 ms); large matrix products
   * lose about a quarter without them, so speed measurements of wide models raise it themselves. */
  OPENBLAS_NUM_THREADS: z.string().default("1"),
  /** The serving detector whose RoI features a training run reads; unset: the one `detectors/current.json` names
   * (as the feature worker's setting of the same name). Tests set their own, so they never read the shared one. */
  LXTAG_DETECTOR_ID: z.string().min(1).optional(),

  // --- training runs (`runTraining`, `npm run train`) ---
  /** Work folders of failed runs kept on a host to look into (dataset shards: every post's features); older ones
   * go when a run starts. A successful run removes its own. */
  LXTAG_TRAIN_KEEP_FAILED: z.coerce.number().int().min(0).default(3),
  /**
   * The candidates every run trains and weighs on the validation posts (run/candidates.ts): comma-separated
   * `<architecture>[+mask][@<loss>]`, architectures `lxmert4hashtag`, `concat`, `text-only`, `linear` (caption
   * TF-IDF), `popularity`. The best on validation (model text and hashtag-free captions alike) is the run's
   * candidate; listing one architecture trains only that. `+mask` trains a share of posts on hashtag-free captions
   * (LXTAG_TRAIN_MASK_SHARE): listed beside its unmasked twin, validation decides whether masking helps.
   */
  LXTAG_TRAIN_CANDIDATES: z
    .string()
    .default("lxmert4hashtag,lxmert4hashtag+mask,text-only+mask,linear,linear@softmax,popularity"),
  /** The loss of candidates without `@<loss>`: `bce` (the paper's) or `softmax` (cross-entropy over each post's
   * labels as a distribution). */
  LXTAG_TRAIN_LOSS: z.enum(["bce", "softmax"]).default("bce"),
  /** Share of training posts a `+mask` candidate reads with every hashtag removed, drawn anew each epoch. */
  LXTAG_TRAIN_MASK_SHARE: z.coerce.number().min(0).max(1).default(0.5),
  /** Try the engine's neighbour blend on the chosen candidate; kept only when validation says it helps. */
  LXTAG_TRAIN_BLEND: z.stringbool().default(true),
  /** Learning rate of the `linear` candidate: one layer over TF-IDF learns slowly at a transformer's rate. */
  LXTAG_TRAIN_LINEAR_LR: z.coerce.number().positive().default(0.05),
  /** Size of a model trained from scratch: `tiny` trains on a CPU in minutes; `base` is the paper's (a GPU).
   * A warm start keeps the active model's size, whatever this says. */
  LXTAG_TRAIN_PRESET: z.enum(["tiny", "base"]).default("tiny"),
  /** JSON overrides of the preset's model config for a model trained from scratch, e.g. `{"hidden_size": 64}`. */
  LXTAG_TRAIN_MODEL_CONFIG: z
    .string()
    .default("{}")
    .transform((s, ctx) => {
      try {
        const v: unknown = JSON.parse(s);
        if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
      } catch {}
      ctx.addIssue({ code: "custom", message: "expected a JSON object" });
      return z.NEVER;
    }),
  /** Upper bound; early stopping usually ends a run sooner. */
  LXTAG_TRAIN_EPOCHS: z.coerce.number().int().min(1).default(30),
  /** Measured on the demo's 600 posts (tiny preset): 1e-3 reached val F1@2 0.85 by epoch 17, where 2e-3 stalled
   * at 0.43 and 5e-4 at 0.60 within 24 epochs. The paper's base model used 5e-5. */
  LXTAG_TRAIN_LR: z.coerce.number().positive().default(1e-3),
  LXTAG_TRAIN_BATCH_SIZE: z.coerce.number().int().min(1).default(32),
  /** Epochs without a better validation F1@2 before training stops. */
  LXTAG_TRAIN_PATIENCE: z.coerce.number().int().min(1).default(10),
  /** Vocabulary of the WordPiece tokenizer the first run on a fresh install learns from the training captions
   * (later runs keep the active model's tokenizer, so its ids stay what the model learned). */
  LXTAG_TRAIN_VOCAB_SIZE: z.coerce.number().int().min(100).default(4000),

  // --- the data stage: a preset (run/data-prep/presets.ts says what each fixes, and why); each setting below
  // overrides its value, and unset (or empty) takes the preset's ---
  /** `default`: typical exports, where most posts carry one to three hashtags; `paper`: the paper's preparation
   * (at least 5 words, re-posts by image or caption, top 500 less city names, at least 5 hashtags per post on every
   * split), which removes nearly every post of such exports. Not `LXTAG_TRAIN_PRESET`, the model's size. */
  LXTAG_TRAIN_PRESET_DATA: z.enum(DATA_PRESET_NAMES).default("default"),
  /** Posts whose model text has fewer words are removed, every split. Preset: default 1, paper 5. */
  LXTAG_TRAIN_MIN_WORDS: unset(z.coerce.number().int().min(0)),
  /** Re-posts removed, the earliest kept: `off`, `caption` (same model text, lower-case, spaces collapsed),
   * `image` (same sha256), `image-or-caption`. Preset: default `caption`, paper `image-or-caption`. */
  LXTAG_TRAIN_DEDUP_REPOSTS: unset(z.enum(REPOST_MODES)),
  /** `<word>s` merged into `<word>` when the train split has both. Preset: on in both. */
  LXTAG_TRAIN_PLURAL_ALIASES: unset(z.stringbool()),
  /** A file of `variant,canonical` lines merged before counting (`nyc,newyork`); unset: none. */
  LXTAG_TRAIN_ALIASES: unset(z.string()),
  /** The shipped city list (apps/trainer/data/blocklist-cities.txt) removed from the labels. Preset: default off,
   * paper on. */
  LXTAG_TRAIN_BLOCK_CITIES: unset(z.stringbool()),
  /** Comma-separated blocklist files (hashtags separated by commas or lines) removed from the labels, on top of the
   * city list when that is on. */
  LXTAG_TRAIN_BLOCKLIST: z
    .string()
    .default("")
    .transform((s) =>
      s
        .split(",")
        .map((p) => p.trim())
        .filter(Boolean),
    ),
  /** A hashtag becomes a model output when at least this many training posts carry it (counted on the train
   * split only, so the held-out posts do not choose the vocabulary). Preset: default 2, paper 1. */
  LXTAG_TRAIN_MIN_TAG_COUNT: unset(z.coerce.number().int().min(1)),
  /** At most this many outputs, the most frequent: the head's size. Preset: default 1000, paper 500. */
  LXTAG_TRAIN_MAX_HASHTAGS: unset(z.coerce.number().int().min(1)),
  /** Posts with fewer output hashtags are removed. Preset: default 1, paper 5. */
  LXTAG_TRAIN_MIN_POST_HASHTAGS: unset(z.coerce.number().int().min(0)),
  /** Where that applies: `train` (val and test keep every post, so recall counts every true hashtag) or `all`.
   * Preset: default `train`, paper `all`. */
  LXTAG_TRAIN_MIN_POST_HASHTAGS_SPLITS: unset(z.enum(["train", "all"])),
  /** A run with fewer posts after the filters, or an empty validation or test split, fails and says so. */
  LXTAG_TRAIN_MIN_POSTS: z.coerce.number().int().min(3).default(50),
  /** Posts without a usable image (videos, missing media) train as caption-only examples, as they are served:
   * caption plus zero visual input. Posts whose image has no RoI object for the serving detector are always left
   * out: serving would give them features, so zeros would teach the model a wrong input. */
  LXTAG_TRAIN_CAPTION_ONLY: z.stringbool().default(true),
  /** A run is skipped unless at least this many labeled posts and human labels arrived since the last successful
   * run (`--force` runs anyway). */
  LXTAG_TRAIN_MIN_NEW_LABELS: z.coerce.number().int().min(0).default(1),
  /** Cron pattern (BullMQ job scheduler, e.g. "0 3 * * *") on which the trainer service starts a run; empty: none.
   * Single-node installs use this; Kubernetes uses the CronJob in infra/ instead (enable one of the two). */
  LXTAG_TRAIN_SCHEDULE: z.string().default(""),
  /** The gate compares candidate and active model by F1 at this k on the same test posts (the paper's headline
   * k is 2). */
  LXTAG_TRAIN_GATE_K: z.coerce.number().int().min(1).max(5).default(2),
  /** The candidate is activated only when its F1@k exceeds the active model's by more than this. */
  LXTAG_TRAIN_GATE_MARGIN: z.coerce.number().min(0).default(0),
});
export type TrainerConfig = z.infer<typeof trainerEnvSchema>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): TrainerConfig =>
  parseEnv(trainerEnvSchema, env);

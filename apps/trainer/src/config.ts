import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { z } from "zod";

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
  /** Architecture of a new model: the paper's model; the engine also has the baselines (`concat`, `text-only`). */
  LXTAG_TRAIN_ARCH: z.enum(["lxmert4hashtag", "concat", "text-only"]).default("lxmert4hashtag"),
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
  /** A hashtag becomes a model output when at least this many training posts carry it (counted on the train
   * split only, so the held-out posts do not choose the vocabulary). */
  LXTAG_TRAIN_MIN_TAG_COUNT: z.coerce.number().int().min(1).default(2),
  /** At most this many outputs, the most frequent: the head's size. */
  LXTAG_TRAIN_MAX_HASHTAGS: z.coerce.number().int().min(1).default(1000),
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

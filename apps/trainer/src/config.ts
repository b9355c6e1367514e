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
});
export type TrainerConfig = z.infer<typeof trainerEnvSchema>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): TrainerConfig =>
  parseEnv(trainerEnvSchema, env);

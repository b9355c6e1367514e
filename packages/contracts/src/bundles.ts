import { z } from "zod";

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

/** How the detector picks its boxes (reference B.2 and B.3); the steps between and after the two graphs. */
export const detectorSelectionSchema = z.object({
  /** caffe: per-class NMS + confidence rule on proposal boxes (LXMERT's features); demo: the HF demo's boxes */
  mode: z.enum(["caffe", "demo"]),
  pre_nms_topk: z.number().int().positive(),
  post_nms_topk: z.number().int().positive(),
  rpn_nms: z.number().gt(0).lte(1),
  rpn_min_size: z.number().min(0),
  caffe_nms: z.number().gt(0).lte(1),
  caffe_conf: z.number().min(0).max(1),
  demo_nms: z.array(z.number().gt(0).lte(1)).min(1),
});
export type DetectorSelection = z.infer<typeof detectorSelectionSchema>;

/** CONTRACTS.md section 3. */
export const detectorManifestSchema = z.object({
  format: z.literal("lxtag-detector/1"),
  id: z.string().min(1),
  kind: z.literal("faster-rcnn"),
  /** "random" or where the weights came from */
  weights: z.string().default("random"),
  input: z.object({
    color: z.enum(["BGR", "RGB"]),
    pixel_mean: z.array(z.number()).length(3),
    pixel_std: z.array(z.number()).length(3),
    min_size: z.number().int().positive(),
    max_size: z.number().int().positive(),
  }),
  num_boxes: z.number().int().positive(),
  feature_dim: z.number().int().positive(),
  graphs: z.object({ rpn: z.string(), head: z.string() }),
  selection: detectorSelectionSchema,
  files: z.record(z.string(), sha256Hex),
});
export type DetectorManifest = z.infer<typeof detectorManifestSchema>;

/** CONTRACTS.md section 4. */
export const modelManifestSchema = z.object({
  format: z.literal("lxtag-model/1"),
  id: z.string().min(1),
  architecture: z.string().min(1),
  config: z.record(z.string(), z.unknown()),
  hashtags: z.array(z.string()).min(1),
  max_length: z.number().int().min(8).max(128),
  detector: z.string(),
  metrics: z.record(z.string(), z.unknown()).default({}),
  dataset: z.record(z.string(), z.unknown()).default({}),
  /** How the engine trained it (absent in imported and random bundles). */
  training: z
    .object({ loss: z.string(), select_on: z.string(), mask_share: z.number().optional() })
    .optional(),
  /** The neighbour blend baked into the graph: kNN votes of training posts mixed in with this weight. */
  blend: z
    .object({
      weight: z.number(),
      k: z.number().int(),
      bank: z.number().int(),
      val_f1_at_2_without: z.number(),
      val_f1_at_2_with: z.number(),
    })
    .optional(),
  created_at: z.string(),
  files: z.record(z.string(), sha256Hex),
});
export type ModelManifest = z.infer<typeof modelManifestSchema>;

export const NUM_BOXES = 36;
export const FEATURE_DIM = 2048;
export const MODEL_INPUTS = [
  "input_ids",
  "attention_mask",
  "token_type_ids",
  "visual_feats",
  "visual_pos",
] as const;
export const MODEL_OUTPUTS = ["logits", "pooled"] as const;

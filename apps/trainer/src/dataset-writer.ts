import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FEATURE_DIM, NUM_BOXES } from "@lxtag/contracts";
import { encodeSafetensors, float32ToFloat16, type RoiFeatures } from "@lxtag/storage";
import { CaptionTokenizer } from "@lxtag/text";
import { SPLIT_NAMES, type Splits } from "./run/split.js";

/** One post of a dataset: the model's input text and its labels (any of them may be outside `hashtags`). */
export interface DatasetExample {
  id: string;
  text: string;
  labels: readonly string[];
}

export interface DatasetOptions<T extends DatasetExample> {
  /** The model's outputs, in label order. */
  hashtags: readonly string[];
  /** The tokenizer the model reads with (copied beside the shards as `tokenizer.json`). */
  tokenizerPath: string;
  detectorId: string;
  /** The RoI features of each example, null for a caption-only one; called once per part. */
  rois: (examples: T[]) => Promise<(RoiFeatures | null)[]>;
  /** @defaultValue 128 */
  maxLength?: number;
  /** Recorded in dataset.json: what the filters did. */
  filters?: unknown;
  /**
   * Posts per shard file: a split larger than this is written as `<split>.<n>.safetensors`, so features are in
   * memory one part at a time (36 x 2048 float32 per post: 512 posts are 150 MB). @defaultValue 512
   */
  partSize?: number;
}

/** dataset.json (CONTRACTS.md 5). */
export interface DatasetMeta {
  id: string;
  hashtags: string[];
  splits: { train: number; val: number; test: number };
  filters: unknown;
  tokenizer_sha256: string;
  vocab_size: number;
  detector: string;
  max_length: number;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * Writes training shards (CONTRACTS.md 5) for splits made by the run's stages, with the serving tokenizer, so
 * training and serving see identical inputs. Token rows are padded to `maxLength` so a split's parts line up.
 */
export async function writeDataset<T extends DatasetExample>(
  dir: string,
  splits: Splits<T>,
  opts: DatasetOptions<T>,
): Promise<DatasetMeta> {
  await mkdir(dir, { recursive: true });
  const maxLength = opts.maxLength ?? 128;
  const partSize = opts.partSize ?? 512;
  const tokenizerPath = join(dir, "tokenizer.json");
  await copyFile(opts.tokenizerPath, tokenizerPath);
  const tokenizer = CaptionTokenizer.fromFile(tokenizerPath, maxLength);
  const index = new Map(opts.hashtags.map((h, i) => [h, i]));
  const h = opts.hashtags.length;
  for (const name of SPLIT_NAMES) {
    const rows = splits[name];
    const parts = Math.ceil(rows.length / partSize);
    for (let part = 0; part < parts; part++) {
      const chunk = rows.slice(part * partSize, (part + 1) * partSize);
      const n = chunk.length;
      const enc = await tokenizer.encodeBatch(chunk.map((e) => e.text));
      const inputIds = new Int32Array(n * maxLength);
      const mask = new Uint8Array(n * maxLength);
      for (let i = 0; i < n; i++)
        for (let t = 0; t < enc.length; t++) {
          inputIds[i * maxLength + t] = Number(enc.inputIds[i * enc.length + t]);
          mask[i * maxLength + t] = Number(enc.attentionMask[i * enc.length + t]);
        }
      const rois = await opts.rois(chunk);
      const feats = new Float32Array(n * NUM_BOXES * FEATURE_DIM);
      const pos = new Float32Array(n * NUM_BOXES * 4);
      const labels = new Uint8Array(n * h);
      chunk.forEach((e, i) => {
        const roi = rois[i];
        if (roi) {
          feats.set(roi.features, i * NUM_BOXES * FEATURE_DIM);
          pos.set(roi.boxes, i * NUM_BOXES * 4);
        }
        for (const l of e.labels) {
          const j = index.get(l);
          if (j !== undefined) labels[i * h + j] = 1;
        }
      });
      const buf = encodeSafetensors(
        {
          input_ids: { dtype: "I32", shape: [n, maxLength], data: inputIds },
          attention_mask: { dtype: "U8", shape: [n, maxLength], data: mask },
          visual_feats: { dtype: "F16", shape: [n, NUM_BOXES, FEATURE_DIM], data: float32ToFloat16(feats) },
          visual_pos: { dtype: "F32", shape: [n, NUM_BOXES, 4], data: pos },
          labels: { dtype: "U8", shape: [n, h], data: labels },
        },
        { post_ids: JSON.stringify(chunk.map((r) => r.id)) },
      );
      await writeFile(join(dir, parts === 1 ? `${name}.safetensors` : `${name}.${part}.safetensors`), buf);
    }
  }
  const tokenizerSha = sha256(await readFile(tokenizerPath));
  const ids = SPLIT_NAMES.map((s) => `${s}:${splits[s].map((e) => e.id).join(",")}`).join("\n");
  const meta: DatasetMeta = {
    // the same posts, outputs and tokenizer make the same id
    id: `ds-${sha256(`${tokenizerSha}\n${opts.hashtags.join(",")}\n${ids}`).slice(0, 12)}`,
    hashtags: [...opts.hashtags],
    splits: { train: splits.train.length, val: splits.val.length, test: splits.test.length },
    filters: opts.filters ?? {},
    tokenizer_sha256: tokenizerSha,
    vocab_size: tokenizer.vocabSize,
    detector: opts.detectorId,
    max_length: maxLength,
  };
  await writeFile(join(dir, "dataset.json"), JSON.stringify(meta, null, 2));
  return meta;
}

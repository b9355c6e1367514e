import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FEATURE_DIM, NUM_BOXES } from "@lxtag/contracts";
import { encodeSafetensors, float32ToFloat16, type RoiFeatures } from "@lxtag/storage";
import { CaptionTokenizer } from "@lxtag/text";
import { SPLIT_NAMES, type Splits } from "./run/split.js";

/** One post of a dataset: the model's input texts and its labels (any of them may be outside `hashtags`). */
export interface DatasetExample {
  id: string;
  /** The model text (the paper's rule). */
  text: string;
  /** The caption with every hashtag removed: the `notags` variant. */
  textWithoutHashtags: string;
  labels: readonly string[];
}

/**
 * Text variants written beside each split: `<split>_<variant>.safetensors` (or `<split>_<variant>.<n>.safetensors`
 * beside `<split>.<n>.safetensors`) with only `input_ids` and `attention_mask`, for the same posts in the same order;
 * the engine takes features and labels from the base split.
 */
export const TEXT_VARIANTS = ["notags"] as const;

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
  /** Checked before each part: a run that lost its lock stops writing (another may be writing the same folder). */
  signal?: AbortSignal;
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
  /** See {@link TEXT_VARIANTS}. */
  text_variants: string[];
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/** Token rows of `texts`, each padded to `maxLength` so a split's parts line up. */
async function encodeRows(tokenizer: CaptionTokenizer, texts: string[], maxLength: number) {
  const n = texts.length;
  const enc = await tokenizer.encodeBatch(texts);
  const inputIds = new Int32Array(n * maxLength); // [N, L]
  const mask = new Uint8Array(n * maxLength); // [N, L]
  for (let i = 0; i < n; i++)
    for (let t = 0; t < enc.length; t++) {
      inputIds[i * maxLength + t] = Number(enc.inputIds[i * enc.length + t]);
      mask[i * maxLength + t] = Number(enc.attentionMask[i * enc.length + t]);
    }
  return {
    input_ids: { dtype: "I32" as const, shape: [n, maxLength], data: inputIds },
    attention_mask: { dtype: "U8" as const, shape: [n, maxLength], data: mask },
  };
}

/**
 * Writes training shards (CONTRACTS.md 5) for splits made by the run's stages, with the serving tokenizer, so
 * training and serving see identical inputs. Token rows are padded to `maxLength` so a split's parts line up.
 * Each base shard also holds `label_count` I32 [N]: a post's true labels, also those outside the outputs, so the
 * engine's recall counts every one. Beside each, the hashtag-free text variant ({@link TEXT_VARIANTS}).
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
    const file = (variant: string, part: number) =>
      join(dir, `${name}${variant}${parts === 1 ? "" : `.${part}`}.safetensors`);
    for (let part = 0; part < parts; part++) {
      opts.signal?.throwIfAborted();
      const chunk = rows.slice(part * partSize, (part + 1) * partSize);
      const n = chunk.length;
      const tokens = await encodeRows(
        tokenizer,
        chunk.map((e) => e.text),
        maxLength,
      );
      const rois = await opts.rois(chunk);
      const feats = new Float32Array(n * NUM_BOXES * FEATURE_DIM);
      const pos = new Float32Array(n * NUM_BOXES * 4);
      const labels = new Uint8Array(n * h);
      const labelCount = new Int32Array(n);
      chunk.forEach((e, i) => {
        const roi = rois[i];
        if (roi) {
          feats.set(roi.features, i * NUM_BOXES * FEATURE_DIM);
          pos.set(roi.boxes, i * NUM_BOXES * 4);
        }
        labelCount[i] = new Set(e.labels).size;
        for (const l of e.labels) {
          const j = index.get(l);
          if (j !== undefined) labels[i * h + j] = 1;
        }
      });
      const postIds = { post_ids: JSON.stringify(chunk.map((r) => r.id)) };
      const buf = encodeSafetensors(
        {
          ...tokens,
          visual_feats: { dtype: "F16", shape: [n, NUM_BOXES, FEATURE_DIM], data: float32ToFloat16(feats) },
          visual_pos: { dtype: "F32", shape: [n, NUM_BOXES, 4], data: pos },
          labels: { dtype: "U8", shape: [n, h], data: labels },
          label_count: { dtype: "I32", shape: [n], data: labelCount },
        },
        postIds,
      );
      await writeFile(file("", part), buf);
      const notags = await encodeRows(
        tokenizer,
        chunk.map((e) => e.textWithoutHashtags),
        maxLength,
      );
      await writeFile(file("_notags", part), encodeSafetensors(notags, postIds));
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
    text_variants: [...TEXT_VARIANTS],
  };
  await writeFile(join(dir, "dataset.json"), JSON.stringify(meta, null, 2));
  return meta;
}

import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FEATURE_DIM, NUM_BOXES } from "@lxtag/contracts";
import { encodeSafetensors, float32ToFloat16, type RoiFeatures } from "@lxtag/storage";
import { CaptionTokenizer, extractHashtags, modelText, writeWordPieceTokenizer } from "@lxtag/text";

export interface LabeledExample {
  id: string;
  caption: string;
  roi: RoiFeatures | null;
  /** Extra labels beyond the caption's own hashtags (human corrections). */
  labels?: string[];
}

export interface DatasetOptions {
  minTagCount?: number;
  vocabSize?: number;
  maxLength?: number;
  detectorId: string;
  /** Shares for val and test; the rest trains. */
  split?: [number, number];
}

/**
 * Builds training shards (CONTRACTS.md 5) with the serving tokenizer and caption rules, so training and serving
 * see identical inputs. Writes `tokenizer.json` beside the shards.
 */
export async function writeDataset(dir: string, examples: LabeledExample[], opts: DatasetOptions) {
  await mkdir(dir, { recursive: true });
  const labelsOf = examples.map((e) => [...new Set([...extractHashtags(e.caption), ...(e.labels ?? [])])]);
  const counts = new Map<string, number>();
  for (const ls of labelsOf) for (const l of ls) counts.set(l, (counts.get(l) ?? 0) + 1);
  const hashtags = [...counts.entries()]
    .filter(([, n]) => n >= (opts.minTagCount ?? 2))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([h]) => h);
  const texts = examples.map((e) => modelText(e.caption));
  const tokenizerPath = join(dir, "tokenizer.json");
  writeWordPieceTokenizer(texts, tokenizerPath, opts.vocabSize ?? 4000);
  const tokenizer = CaptionTokenizer.fromFile(tokenizerPath, opts.maxLength ?? 128);
  const [valShare, testShare] = opts.split ?? [0.1, 0.1];
  const n = examples.length;
  const nVal = Math.round(n * valShare);
  const nTest = Math.round(n * testShare);
  const splits = { train: [nVal + nTest, n], val: [0, nVal], test: [nVal, nVal + nTest] } as const;
  const index = new Map(hashtags.map((h, i) => [h, i]));
  for (const [name, [from, to]] of Object.entries(splits)) {
    const rows = examples.slice(from, to);
    if (!rows.length) continue;
    const enc = await tokenizer.encodeBatch(texts.slice(from, to));
    const feats = new Float32Array(rows.length * NUM_BOXES * FEATURE_DIM);
    const pos = new Float32Array(rows.length * NUM_BOXES * 4);
    const labels = new Uint8Array(rows.length * hashtags.length);
    rows.forEach((e, i) => {
      if (e.roi) {
        feats.set(e.roi.features, i * NUM_BOXES * FEATURE_DIM);
        pos.set(e.roi.boxes, i * NUM_BOXES * 4);
      }
      for (const l of labelsOf[from + i]!) {
        const j = index.get(l);
        if (j !== undefined) labels[i * hashtags.length + j] = 1;
      }
    });
    const buf = encodeSafetensors(
      {
        input_ids: {
          dtype: "I32",
          shape: [rows.length, enc.length],
          data: Int32Array.from(enc.inputIds, Number),
        },
        attention_mask: {
          dtype: "U8",
          shape: [rows.length, enc.length],
          data: Uint8Array.from(enc.attentionMask, Number),
        },
        visual_feats: {
          dtype: "F16",
          shape: [rows.length, NUM_BOXES, FEATURE_DIM],
          data: float32ToFloat16(feats),
        },
        visual_pos: { dtype: "F32", shape: [rows.length, NUM_BOXES, 4], data: pos },
        labels: { dtype: "U8", shape: [rows.length, hashtags.length], data: labels },
      },
      { post_ids: JSON.stringify(rows.map((r) => r.id)) },
    );
    await writeFile(join(dir, `${name}.safetensors`), buf);
  }
  const tokenizerSha = createHash("sha256")
    .update(await readFile(tokenizerPath))
    .digest("hex");
  const meta = {
    id: `ds-${tokenizerSha.slice(0, 8)}-${n}`,
    hashtags,
    splits: { train: n - nVal - nTest, val: nVal, test: nTest },
    filters: { min_tag_count: opts.minTagCount ?? 2 },
    tokenizer_sha256: tokenizerSha,
    vocab_size: tokenizer.vocabSize,
    detector: opts.detectorId,
    max_length: opts.maxLength ?? 128,
  };
  await writeFile(join(dir, "dataset.json"), JSON.stringify(meta, null, 2));
  return meta;
}

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  FEATURE_DIM,
  MODEL_INPUTS,
  type ModelManifest,
  modelManifestSchema,
  NUM_BOXES,
} from "@lxtag/contracts";
import { CaptionTokenizer } from "@lxtag/text";
import { InferenceError, OrtSession, type OrtSessionOptions } from "./ort-session.js";
import type { Feeds } from "./session-protocol.js";

/** One post's model input: its cleaned caption and its RoI tensors (absent: caption only, zero visual input). */
export interface ModelInput {
  text: string;
  features?: Float32Array; // [36 * 2048]
  boxes?: Float32Array; // [36 * 4]
}

/** Values of one post's RoI features and boxes in a {@link ModelBatch}. */
export const FEATURES_PER_POST = NUM_BOXES * FEATURE_DIM;
export const BOXES_PER_POST = NUM_BOXES * 4;

/**
 * Posts' model inputs laid out as the graph takes them, row `i` being post `i` (`texts[i]`): a caller fills the rows
 * in place (e.g. decodes RoI objects straight into `features`), so no post's tensors are allocated and copied apart.
 * Rows beyond `texts.length` are not run; a row left zero is caption only.
 */
export class ModelBatch {
  readonly texts: string[] = [];
  readonly features: Float32Array;
  readonly boxes: Float32Array;
  /** Whether the tensors are a finished run's, zeroed again. */
  readonly recycled: boolean;

  /** `recycled`: tensors of a run before, of this capacity, zeroed here (a row left zero is caption only). */
  constructor(
    readonly capacity: number,
    recycled?: { features: Float32Array; boxes: Float32Array },
  ) {
    this.recycled = recycled !== undefined;
    if (recycled) {
      if (
        recycled.features.length !== capacity * FEATURES_PER_POST ||
        recycled.boxes.length !== capacity * BOXES_PER_POST
      )
        throw new RangeError(`recycled tensors do not hold ${capacity} rows`);
      this.features = recycled.features.fill(0);
      this.boxes = recycled.boxes.fill(0);
    } else {
      this.features = new Float32Array(capacity * FEATURES_PER_POST);
      this.boxes = new Float32Array(capacity * BOXES_PER_POST);
    }
  }

  /** Row `to` gets row `from`'s features and boxes (posts that share an image). */
  copyRow(from: number, to: number): void {
    this.features.copyWithin(
      to * FEATURES_PER_POST,
      from * FEATURES_PER_POST,
      (from + 1) * FEATURES_PER_POST,
    );
    this.boxes.copyWithin(to * BOXES_PER_POST, from * BOXES_PER_POST, (from + 1) * BOXES_PER_POST);
  }

  /** A batch of these inputs, filled into `batch` (a fresh batch of their number by default). */
  static of(inputs: ModelInput[], batch = new ModelBatch(inputs.length)): ModelBatch {
    inputs.forEach((input, i) => {
      if (input.features) batch.features.set(input.features, i * FEATURES_PER_POST);
      if (input.boxes) batch.boxes.set(input.boxes, i * BOXES_PER_POST);
      batch.texts.push(input.text);
    });
    return batch;
  }
}

export interface Ranked {
  hashtag: string;
  score: number;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** A model bundle (CONTRACTS.md 4) loaded once: tokenizer + ONNX session; ranks hashtags for a batch of posts. */
export class HashtagModel {
  /**
   * Tensors of finished runs, by capacity, for the next batches: a fresh 32-post batch is 9.4 MB that the kernel
   * zeroes page by page and the garbage collector frees again, at every run.
   */
  private readonly spare = new Map<number, { features: Float32Array; boxes: Float32Array }[]>();

  private constructor(
    readonly manifest: ModelManifest,
    private readonly tokenizer: CaptionTokenizer,
    private readonly session: OrtSession,
  ) {}

  static async load(
    dir: string,
    options: Omit<OrtSessionOptions, "requiredInputs" | "requiredOutputs"> = {},
  ): Promise<HashtagModel> {
    const manifest = modelManifestSchema.parse(
      JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")),
    );
    const tokenizer = CaptionTokenizer.fromFile(join(dir, "tokenizer.json"), manifest.max_length);
    const session = await OrtSession.create(join(dir, "model.onnx"), {
      ...options,
      requiredInputs: MODEL_INPUTS,
      requiredOutputs: ["logits", "pooled"],
    });
    return new HashtagModel(manifest, tokenizer, session);
  }

  get id(): string {
    return this.manifest.id;
  }

  /** An empty batch of `capacity` rows, on the tensors of a finished run of that capacity when one is spare. */
  newBatch(capacity: number): ModelBatch {
    return new ModelBatch(capacity, this.spare.get(capacity)?.pop());
  }

  /** Sigmoid scores, top `k` per post, in input order. */
  rank(inputs: ModelInput[], k: number): Promise<Ranked[][]> {
    return this.rankBatch(ModelBatch.of(inputs, this.newBatch(inputs.length)), k);
  }

  /** As `rank`, for a batch built in place; its tensors go to the inference thread and are unusable afterwards. */
  async rankBatch(batch: ModelBatch, k: number): Promise<Ranked[][]> {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
    const b = batch.texts.length;
    if (!b) return []; // ORT refuses a batch of zero rows
    if (b > batch.capacity) throw new RangeError(`${b} texts in a batch of ${batch.capacity} rows`);
    const enc = await this.tokenizer.encodeBatch(batch.texts);
    const out = await this.session.run(
      {
        input_ids: { type: "int64", dims: [b, enc.length], data: enc.inputIds },
        attention_mask: { type: "int64", dims: [b, enc.length], data: enc.attentionMask },
        token_type_ids: { type: "int64", dims: [b, enc.length], data: enc.tokenTypeIds },
        visual_feats: {
          type: "float32",
          dims: [b, NUM_BOXES, FEATURE_DIM],
          data: batch.features.subarray(0, b * FEATURES_PER_POST),
        },
        visual_pos: {
          type: "float32",
          dims: [b, NUM_BOXES, 4],
          data: batch.boxes.subarray(0, b * BOXES_PER_POST),
        },
      },
      (inputs) => this.keepSpare(batch.capacity, inputs),
    );
    const h = this.manifest.hashtags.length;
    const { dims } = out.logits!;
    if (dims.length !== 2 || dims[0] !== b || dims[1] !== h)
      throw new InferenceError(
        `logits are [${dims}], expected [${b}, ${h}]: one per hashtag of the manifest`,
      );
    const logits = out.logits!.data as Float32Array;
    return batch.texts.map((_, i) => {
      const row = logits.subarray(i * h, (i + 1) * h);
      const order = Array.from(row.keys()).sort((a, c) => row[c]! - row[a]!);
      return order.slice(0, k).map((j) => ({ hashtag: this.manifest.hashtags[j]!, score: sigmoid(row[j]!) }));
    });
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }

  /** Keeps a run's visual tensors (views of a batch's whole buffers) for `newBatch`; a few per capacity. */
  private keepSpare(capacity: number, inputs: Feeds): void {
    const features = inputs.visual_feats?.data;
    const boxes = inputs.visual_pos?.data;
    if (!(features instanceof Float32Array && boxes instanceof Float32Array)) return;
    const kept = this.spare.get(capacity) ?? [];
    if (kept.length >= 4) return;
    kept.push({ features: new Float32Array(features.buffer), boxes: new Float32Array(boxes.buffer) });
    this.spare.set(capacity, kept);
  }
}

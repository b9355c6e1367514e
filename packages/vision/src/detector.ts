import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type DetectorManifest, detectorManifestSchema, FEATURE_DIM, NUM_BOXES } from "@lxtag/contracts";
import { DynamicBatcher, type DynamicBatcherOptions, OrtSession, type WireTensor } from "@lxtag/inference";
import type { RoiFeatures } from "@lxtag/storage";
import type { RgbImage } from "./decode.js";
import { type Selected, selectCaffe, selectDemo, selectProposals } from "./frcnn-selection.js";
import { type DetectorInput, preprocess } from "./preprocess.js";

export interface DetectorOptions {
  executionProviders?: string[];
  intraOpThreads?: number;
  /**
   * Run the images of one `detectBatch` call through each graph together, padded to the largest (as the
   * reference pipeline pads a batch). Pays off on a GPU; on CPU one image at a time is as fast and simpler.
   * @defaultValue true unless the session runs on the CPU provider
   */
  batchImages?: boolean;
  /** RoIs per head-graph run: bounds memory (the r101 res5 output is 1.6 MB per RoI). @defaultValue 100 */
  headChunk?: number;
}

/** What callers need of a detector: its id (part of the RoI cache key) and one image's RoIs. */
export type ImageDetector = Pick<Detector, "id" | "detect">;

/**
 * A Faster R-CNN detector bundle (CONTRACTS.md 3) loaded once. `detect` turns decoded pixels into the RoI
 * contract (CONTRACTS.md 2): preprocessing here, the backbone + RPN graph, proposal selection here, the RoI head
 * graph, the 36-box selection here.
 */
export class Detector {
  /** Images run through the detector so far (tests count them to prove the cache works). */
  runs = 0;
  private readonly batchImages: boolean;
  private readonly headChunk: number;

  private constructor(
    readonly manifest: DetectorManifest,
    private readonly rpn: OrtSession,
    private readonly head: OrtSession,
    options: DetectorOptions,
  ) {
    this.batchImages = options.batchImages ?? rpn.provider !== "cpu";
    this.headChunk = options.headChunk ?? 100;
  }

  static async load(bundleDir: string, options: DetectorOptions = {}): Promise<Detector> {
    const manifest = detectorManifestSchema.parse(
      JSON.parse(await readFile(join(bundleDir, "manifest.json"), "utf8")),
    );
    if (manifest.num_boxes !== NUM_BOXES || manifest.feature_dim !== FEATURE_DIM)
      throw new Error(
        `detector ${manifest.id} gives ${manifest.num_boxes}x${manifest.feature_dim}, the model needs ${NUM_BOXES}x${FEATURE_DIM}`,
      );
    const rpn = await OrtSession.create(join(bundleDir, manifest.graphs.rpn), {
      ...options,
      requiredInputs: ["image"],
      requiredOutputs: ["res4", "proposals", "objectness"],
    });
    const head = await OrtSession.create(join(bundleDir, manifest.graphs.head), {
      ...options,
      requiredInputs: ["res4", "rois"],
      requiredOutputs: ["features", "class_probs", "class_boxes"],
    }).catch(async (err) => {
      await rpn.dispose();
      throw err;
    });
    return new Detector(manifest, rpn, head, options);
  }

  get id(): string {
    return this.manifest.id;
  }

  get provider(): string {
    return this.rpn.provider;
  }

  async detect(image: RgbImage): Promise<RoiFeatures> {
    return (await this.run([image]))[0]!;
  }

  /** Several images; one graph run per stage when `batchImages` is on, else one image after another. */
  async detectBatch(images: RgbImage[]): Promise<RoiFeatures[]> {
    if (this.batchImages) return this.run(images);
    const out: RoiFeatures[] = [];
    for (const image of images) out.push(await this.detect(image));
    return out;
  }

  /**
   * A `detect` that gathers concurrent calls into `detectBatch` runs (dynamic batching, as Triton does it): worth
   * it on a GPU with several jobs in flight.
   */
  batching(options: DynamicBatcherOptions): ImageDetector {
    const batcher = new DynamicBatcher<RgbImage, RoiFeatures>((images) => this.detectBatch(images), options);
    return { id: this.id, detect: (image) => batcher.submit(image) };
  }

  private async run(images: RgbImage[]): Promise<RoiFeatures[]> {
    const inputs = images.map((image) => preprocess(image, this.manifest.input));
    const { res4, proposals, objectness } = await this.rpn.run({ image: padded(inputs) });
    this.runs += images.length;
    const anchors = objectness!.dims[1]!;
    const perImage = inputs.map((input, i) =>
      selectProposals(
        (proposals!.data as Float32Array).subarray(i * anchors * 4, (i + 1) * anchors * 4),
        (objectness!.data as Float32Array).subarray(i * anchors, (i + 1) * anchors),
        input.height,
        input.width,
        this.manifest.selection,
      ),
    );
    const total = perImage.reduce((n, r) => n + r.length / 4, 0);
    const rois = new Float32Array(total * 5);
    let row = 0;
    perImage.forEach((boxes, i) => {
      for (let k = 0; k < boxes.length / 4; k++, row++) {
        rois[row * 5] = i;
        rois.set(boxes.subarray(k * 4, k * 4 + 4), row * 5 + 1);
      }
    });
    const head = await this.runHead(res4!, rois, total);
    const columns = head.columns;
    let first = 0;
    return inputs.map((input, i) => {
      const count = perImage[i]!.length / 4;
      const probs = head.probs.subarray(first * columns, (first + count) * columns);
      const image = images[i]!;
      const s = this.manifest.selection;
      const selected: Selected =
        s.mode === "caffe"
          ? selectCaffe(
              probs,
              perImage[i]!,
              count,
              columns,
              image.width / input.width,
              image.height / input.height,
              s,
              NUM_BOXES,
              image.width,
              image.height,
            )
          : selectDemo(
              probs,
              head.boxes.subarray(first * 4, (first + count) * 4),
              count,
              columns,
              input.height,
              input.width,
              s,
              NUM_BOXES,
            );
      const features = new Float32Array(NUM_BOXES * FEATURE_DIM);
      for (const [j, k] of selected.indices.entries())
        features.set(
          head.features.subarray((first + k) * FEATURE_DIM, (first + k + 1) * FEATURE_DIM),
          j * FEATURE_DIM,
        );
      const boxes = new Float32Array(NUM_BOXES * 4);
      boxes.set(selected.boxes);
      const scores = new Float32Array(NUM_BOXES);
      scores.set(selected.scores);
      first += count;
      return {
        detectorId: this.id,
        imageWidth: image.width,
        imageHeight: image.height,
        numRealBoxes: selected.indices.length,
        features,
        boxes,
        scores,
      };
    });
  }

  /** The RoI head over all RoIs, `headChunk` at a time; res4 is copied for every run but the last (runs take
   * ownership of their inputs). */
  private async runHead(res4: WireTensor, rois: Float32Array, count: number) {
    const features = new Float32Array(count * FEATURE_DIM);
    let probs = new Float32Array(0);
    const boxes = new Float32Array(count * 4);
    let columns = 0;
    for (let start = 0; start < count; start += this.headChunk) {
      const end = Math.min(count, start + this.headChunk);
      const last = end === count;
      const out = await this.head.run({
        res4: last ? res4 : { ...res4, data: (res4.data as Float32Array).slice() },
        rois: { type: "float32", dims: [end - start, 5], data: rois.slice(start * 5, end * 5) },
      });
      columns = out.class_probs!.dims[1]!;
      if (probs.length === 0) probs = new Float32Array(count * columns);
      features.set(out.features!.data as Float32Array, start * FEATURE_DIM);
      probs.set(out.class_probs!.data as Float32Array, start * columns);
      boxes.set(out.class_boxes!.data as Float32Array, start * 4);
    }
    return { features, probs, boxes, columns };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.rpn.dispose(), this.head.dispose()]);
  }
}

/** One (N, 3, H, W) tensor: each image at the top left, the rest zero (the reference's PAD_VALUE, after
 * normalization). */
function padded(inputs: DetectorInput[]): WireTensor {
  const h = Math.max(...inputs.map((i) => i.height));
  const w = Math.max(...inputs.map((i) => i.width));
  if (inputs.length === 1) return { type: "float32", dims: [1, 3, h, w], data: inputs[0]!.data };
  const data = new Float32Array(inputs.length * 3 * h * w);
  inputs.forEach((input, n) => {
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < input.height; y++) {
        const from = (c * input.height + y) * input.width;
        data.set(input.data.subarray(from, from + input.width), ((n * 3 + c) * h + y) * w);
      }
  });
  return { type: "float32", dims: [inputs.length, 3, h, w], data };
}

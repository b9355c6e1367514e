import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type DetectorManifest, detectorManifestSchema, FEATURE_DIM, NUM_BOXES } from "@lxtag/contracts";
import { OrtSession } from "@lxtag/inference";
import type { RoiFeatures } from "@lxtag/storage";
import type { RgbImage } from "./decode.js";
import { preprocess } from "./preprocess.js";

export interface DetectorOptions {
  executionProviders?: string[];
  intraOpThreads?: number;
}

/** A detector bundle (CONTRACTS.md 3) loaded once; `detect` turns decoded pixels into the RoI contract. */
export class Detector {
  /** Detector graph runs so far (tests count them to prove the cache works). */
  runs = 0;

  private constructor(
    readonly manifest: DetectorManifest,
    private readonly session: OrtSession,
  ) {}

  static async load(bundleDir: string, options: DetectorOptions = {}): Promise<Detector> {
    const manifest = detectorManifestSchema.parse(
      JSON.parse(await readFile(join(bundleDir, "manifest.json"), "utf8")),
    );
    if (manifest.num_boxes !== NUM_BOXES || manifest.feature_dim !== FEATURE_DIM)
      throw new Error(
        `detector ${manifest.id} gives ${manifest.num_boxes}x${manifest.feature_dim}, the model needs ${NUM_BOXES}x${FEATURE_DIM}`,
      );
    const session = await OrtSession.create(join(bundleDir, manifest.graph), {
      ...options,
      requiredInputs: ["image"],
      requiredOutputs: ["boxes", "scores", "features"],
    });
    return new Detector(manifest, session);
  }

  get id(): string {
    return this.manifest.id;
  }

  get provider(): string {
    return this.session.provider;
  }

  async detect(image: RgbImage): Promise<RoiFeatures> {
    const input = preprocess(image, this.manifest.input);
    const out = await this.session.run({
      image: { type: "float32", dims: [1, 3, input.height, input.width], data: input.data },
    });
    this.runs++;
    const rawBoxes = out.boxes!.data as Float32Array;
    const rawScores = out.scores!.data as Float32Array;
    const rawFeats = out.features!.data as Float32Array;
    const n = Math.min(rawScores.length, NUM_BOXES);
    const features = new Float32Array(NUM_BOXES * FEATURE_DIM);
    features.set(rawFeats.subarray(0, n * FEATURE_DIM));
    const boxes = new Float32Array(NUM_BOXES * 4);
    const scores = new Float32Array(NUM_BOXES);
    const clamp = (v: number) => Math.min(1, Math.max(0, v));
    for (let i = 0; i < n; i++) {
      // boxes come in resized-input pixels; dividing by the resized size equals dividing originals by W, H
      boxes[i * 4] = clamp(rawBoxes[i * 4]! / input.width);
      boxes[i * 4 + 1] = clamp(rawBoxes[i * 4 + 1]! / input.height);
      boxes[i * 4 + 2] = clamp(rawBoxes[i * 4 + 2]! / input.width);
      boxes[i * 4 + 3] = clamp(rawBoxes[i * 4 + 3]! / input.height);
      scores[i] = rawScores[i]!;
    }
    return {
      detectorId: this.id,
      imageWidth: image.width,
      imageHeight: image.height,
      numRealBoxes: n,
      features,
      boxes,
      scores,
    };
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}

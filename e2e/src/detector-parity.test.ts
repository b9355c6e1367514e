// The detector's serving path against the engine's PyTorch detector on the same decoded pixels, step by step and
// end to end, for both box selections:
// - TypeScript preprocessing vs PyTorch's (bilinear, BGR, means): within 1e-3 of a pixel value;
// - each ONNX graph in onnxruntime-node vs PyTorch, fed PyTorch's own inputs: within float tolerance;
// - the TypeScript selection steps fed PyTorch's intermediates: exactly the same proposals and boxes;
// - the whole path: the same boxes in the same order and features within 1e-3 on at least 5 of the 6 images.
// The last is "at least 5": ONNX Runtime and PyTorch round differently (about 3e-5 on RPN logits), and where two
// overlapping anchors score within that of each other NMS may keep the other one; the step checks above show any
// such image differs by rounding only. A sweep over 150 shapes agreed end to end on 299 of 300 (shape, selection).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectorManifestSchema, FEATURE_DIM, NUM_BOXES } from "@lxtag/contracts";
import { OrtSession, type WireTensor } from "@lxtag/inference";
import { Detector, preprocess, type RgbImage, selectCaffe, selectDemo, selectProposals } from "@lxtag/vision";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineCommand } from "./apps.js";

/** Gradients with a few solid rectangles: structure for the RPN, deterministic per seed. */
function image(width: number, height: number, seed: number): RgbImage {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x * 255) / width;
      data[o + 1] = (y * 255) / height;
      data[o + 2] = ((x + y) * 97) % 256;
    }
  for (let r = 0; r < 5; r++) {
    const x0 = Math.floor(rand() * width);
    const y0 = Math.floor(rand() * height);
    const w = Math.ceil(rand() * width * 0.5);
    const h = Math.ceil(rand() * height * 0.5);
    const color = [rand() * 255, rand() * 255, rand() * 255];
    for (let y = y0; y < Math.min(height, y0 + h); y++)
      for (let x = x0; x < Math.min(width, x0 + w); x++) data.set(color, (y * width + x) * 3);
  }
  return { width, height, data };
}

// landscape, portrait, very wide (max_size binds), small (upscaled), large (downscaled), odd sizes
const SHAPES: [number, number][] = [
  [320, 240],
  [240, 320],
  [900, 150],
  [48, 40],
  [1400, 1000],
  [91, 37],
];

interface Step {
  path: string;
  dims: number[];
}
interface Reference {
  num_real_boxes: number;
  indices: number[];
  boxes: number[];
  scores: number[];
  features: number[];
  steps: Record<string, Step>;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};
const load = async (step: Step): Promise<WireTensor> => {
  const bytes = await readFile(step.path);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { type: "float32", dims: step.dims, data };
};

let dir = "";
const images = SHAPES.map(([w, h], i) => image(w, h, i + 1));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lxtag-detector-parity-"));
  const list = await Promise.all(
    images.map(async (img, i) => {
      const path = join(dir, `image${i}.rgb`);
      await writeFile(path, img.data);
      return { path, width: img.width, height: img.height };
    }),
  );
  await writeFile(join(dir, "images.json"), JSON.stringify(list));
}, 60_000);

// after both selections' suites, which share the images
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(["caffe", "demo"] as const)("detector parity, %s selection", (selection) => {
  let reference: Reference[] = [];
  let detector: Detector;
  let rpn: OrtSession;
  let head: OrtSession;
  const bundle = () => join(dir, selection);

  beforeAll(async () => {
    await engineCommand([
      "export-detector",
      "--preset",
      "tiny",
      "--selection",
      selection,
      "--seed",
      "5",
      "--out",
      bundle(),
    ]);
    await engineCommand(
      [
        "detect",
        "--checkpoint",
        join(bundle(), "detector.pt"),
        "--images",
        join(dir, "images.json"),
        "--dump",
        join(bundle(), "steps"),
        "--out",
        join(bundle(), "reference.json"),
      ],
      { devtools: true },
    );
    reference = JSON.parse(await readFile(join(bundle(), "reference.json"), "utf8"));
    detector = await Detector.load(bundle());
    rpn = await OrtSession.create(join(bundle(), "rpn.onnx"));
    head = await OrtSession.create(join(bundle(), "head.onnx"));
  }, 180_000);

  afterAll(async () => {
    await Promise.all([detector?.dispose(), rpn?.dispose(), head?.dispose()]);
  });

  it.each(SHAPES.map((s, i) => [`${s[0]}x${s[1]}`, i] as const))(
    "%s: each step matches PyTorch given PyTorch's inputs",
    async (_name, i) => {
      const ref = reference[i]!;
      const step = (name: string) => load(ref.steps[name]!);
      const manifest = detectorManifestSchema.parse(
        JSON.parse(await readFile(join(bundle(), "manifest.json"), "utf8")),
      );
      const input = await step("image");
      const [height, width] = [input.dims[2]!, input.dims[3]!];
      const ours = preprocess(images[i]!, manifest.input);
      expect([ours.height, ours.width]).toEqual([height, width]);
      expect(maxDiff(ours.data, input.data as Float32Array)).toBeLessThan(1e-3);

      const rpnOut = await rpn.run({ image: input });
      const objectness = await step("objectness");
      const proposals = await step("proposals");
      expect(maxDiff(rpnOut.objectness!.data as Float32Array, objectness.data as Float32Array)).toBeLessThan(
        1e-3,
      );
      expect(maxDiff(rpnOut.proposals!.data as Float32Array, proposals.data as Float32Array)).toBeLessThan(
        1e-2,
      );

      const rois = (await step("rois")).data as Float32Array;
      const s = manifest.selection;
      const ourRois = selectProposals(
        proposals.data as Float32Array,
        objectness.data as Float32Array,
        height,
        width,
        s,
      );
      expect([...ourRois]).toEqual([...rois]); // exact: the same decisions on the same numbers

      const count = rois.length / 4;
      const indexed = new Float32Array(count * 5);
      for (let r = 0; r < count; r++) indexed.set(rois.subarray(r * 4, r * 4 + 4), r * 5 + 1);
      const headOut = await head.run({
        res4: await step("res4"),
        rois: { type: "float32", dims: [count, 5], data: indexed },
      });
      const probs = await step("class_probs");
      const classBoxes = await step("class_boxes");
      expect(
        maxDiff(headOut.features!.data as Float32Array, (await step("features")).data as Float32Array),
      ).toBeLessThan(1e-3);
      expect(maxDiff(headOut.class_probs!.data as Float32Array, probs.data as Float32Array)).toBeLessThan(
        1e-5,
      );
      expect(
        maxDiff(headOut.class_boxes!.data as Float32Array, classBoxes.data as Float32Array),
      ).toBeLessThan(1e-2);

      const columns = probs.dims[1]!;
      const img = images[i]!;
      const selected =
        s.mode === "caffe"
          ? selectCaffe(
              probs.data as Float32Array,
              rois,
              count,
              columns,
              img.width / width,
              img.height / height,
              s,
              NUM_BOXES,
              img.width,
              img.height,
            )
          : selectDemo(
              probs.data as Float32Array,
              classBoxes.data as Float32Array,
              count,
              columns,
              height,
              width,
              s,
              NUM_BOXES,
            );
      expect(selected.indices).toEqual(ref.indices); // exact
      expect(maxDiff(selected.boxes, ref.boxes.slice(0, selected.boxes.length))).toBeLessThan(1e-6);
    },
  );

  it("batched: two images of one size in one graph run give what they give one at a time", async () => {
    const batched = await Detector.load(bundle(), { batchImages: true });
    const pair = [image(320, 240, 11), image(320, 240, 12)];
    const together = await batched.detectBatch(pair);
    await batched.dispose();
    for (const [i, img] of pair.entries()) {
      const alone = await detector.detect(img);
      expect(together[i]!.numRealBoxes).toBe(alone.numRealBoxes);
      expect(maxDiff(together[i]!.boxes, alone.boxes)).toBeLessThan(1e-5);
      expect(maxDiff(together[i]!.features, alone.features)).toBeLessThan(1e-4);
    }
  }, 60_000);

  it("end to end: the same boxes and features within 1e-3 on at least 5 of the 6 images", async () => {
    const agree: string[] = [];
    for (const [i, img] of images.entries()) {
      const ref = reference[i]!;
      const got = await detector.detect(img);
      if (got.numRealBoxes !== ref.num_real_boxes || maxDiff(got.boxes, ref.boxes) >= 1e-4) continue;
      expect(maxDiff(got.scores, ref.scores)).toBeLessThan(1e-4);
      expect(maxDiff(got.features, ref.features)).toBeLessThan(1e-3);
      expect(got.numRealBoxes).toBeGreaterThan(0);
      expect(got.features.length).toBe(NUM_BOXES * FEATURE_DIM);
      agree.push(`${img.width}x${img.height}`);
    }
    expect(agree.length, `images that agree: ${agree.join(", ")}`).toBeGreaterThanOrEqual(5);
  }, 60_000);
});

// `npm run bench:detector-gpu`: the full-size (ResNet-101) detector on a GPU with ONNX Runtime's CUDA provider:
// images/s one at a time and batched, then the same images on the CPU path, compared box by box.
//
// It needs a machine with an NVIDIA GPU and onnxruntime-node installed with its CUDA binaries
// (ONNXRUNTIME_NODE_INSTALL_CUDA=v12 at `npm ci`, as infra/docker/Dockerfile does with --build-arg ORT_CUDA=v12).
// The development machines have neither, so it exits with code 2 there, saying why.
//
// Settings: LXTAG_DETECTOR_CHECKPOINT (pytorch_model.bin of unc-nlp/frcnn-vg-finetuned; random weights without
// it), LXTAG_GPU_IMAGES (default 32), LXTAG_IMAGE_BATCH (default 8), LXTAG_GPU_COMPARE (CPU images, default 2).

import { mkdtemp } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { FEATURE_DIM, NUM_BOXES } from "@lxtag/contracts";
import { engineCommand, syntheticPosts } from "@lxtag/e2e";
import type { RoiFeatures } from "@lxtag/storage";
import { Detector, decodeImage, type RgbImage } from "@lxtag/vision";
import { loadDetectorGpuConfig } from "./config.js";

const config = loadDetectorGpuConfig();
const IMAGES = config.LXTAG_GPU_IMAGES;
const BATCH = config.LXTAG_IMAGE_BATCH;
const COMPARE = config.LXTAG_GPU_COMPARE;
const checkpoint = config.LXTAG_DETECTOR_CHECKPOINT;
const line = (o: object) => console.log(JSON.stringify(o));

const dir = await mkdtemp(join(tmpdir(), "lxtag-detector-gpu-"));
console.error(
  `== exporting the r101 detector (${checkpoint ? `weights from ${checkpoint}` : "random weights"})`,
);
await engineCommand(
  checkpoint
    ? ["import-detector", "--preset", "r101", "--checkpoint", checkpoint, "--out", dir]
    : ["export-detector", "--preset", "r101", "--out", dir],
);

const gpu = await Detector.load(dir, { executionProviders: ["cuda"], batchImages: true, headChunk: 300 });
if (gpu.provider !== "cuda") {
  console.error(
    `the CUDA execution provider did not load (got "${gpu.provider}"): this needs an NVIDIA GPU and ` +
      "onnxruntime-node installed with ONNXRUNTIME_NODE_INSTALL_CUDA=v12",
  );
  await gpu.dispose();
  process.exit(2);
}

// same-size images (256x256, shortest side to 600), so batches need no padding
const images: RgbImage[] = await Promise.all(
  (await syntheticPosts(IMAGES, 21)).map((p) => decodeImage(p.image)),
);
const time = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
};

await gpu.detectBatch(images.slice(0, BATCH)); // warm-up: CUDA kernels and the memory arena
const single = await time(async () => {
  for (const image of images) await gpu.detect(image);
});
const results: RoiFeatures[] = [];
const batched = await time(async () => {
  for (let i = 0; i < images.length; i += BATCH)
    results.push(...(await gpu.detectBatch(images.slice(i, i + BATCH))));
});
line({ name: "detector_images_per_s_r101_gpu", value: images.length / single, unit: "images/s" });
line({
  name: `detector_images_per_s_r101_gpu_batch${BATCH}`,
  value: images.length / batched,
  unit: "images/s",
});
line({ name: "detector_gpu_batched_vs_single_ratio", value: single / batched, unit: "ratio" });
await gpu.dispose();

const cpu = await Detector.load(dir, { executionProviders: ["cpu"], intraOpThreads: cpus().length });
let sameBoxes = 0;
let featureDiff = 0;
let boxDiff = 0;
for (let i = 0; i < Math.min(COMPARE, images.length); i++) {
  const want = await cpu.detect(images[i]!);
  const got = results[i]!;
  let boxes = 0;
  for (let k = 0; k < NUM_BOXES * 4; k++) boxes = Math.max(boxes, Math.abs(want.boxes[k]! - got.boxes[k]!));
  boxDiff = Math.max(boxDiff, boxes);
  if (want.numRealBoxes === got.numRealBoxes && boxes < 1e-3) {
    sameBoxes++;
    for (let k = 0; k < NUM_BOXES * FEATURE_DIM; k++)
      featureDiff = Math.max(featureDiff, Math.abs(want.features[k]! - got.features[k]!));
  }
}
await cpu.dispose();
const compared = Math.min(COMPARE, images.length);
line({ name: "detector_gpu_vs_cpu_same_boxes", value: sameBoxes / compared, unit: "share of images" });
line({ name: "detector_gpu_vs_cpu_max_box_diff", value: boxDiff, unit: "normalized" });
line({ name: "detector_gpu_vs_cpu_max_feature_diff", value: featureDiff, unit: "abs" });
// CUDA convolutions may use TF32 and other algorithms, so features differ more than CPU-vs-PyTorch; boxes should not
if (sameBoxes < compared) {
  console.error(`GPU and CPU chose different boxes on ${compared - sameBoxes} of ${compared} images`);
  process.exit(1);
}

import type { DetectorManifest } from "@lxtag/contracts";
import type { RgbImage } from "./decode.js";

/** The detector's input: float32 [1, 3, H, W] in the manifest's colour order, mean-subtracted, std-divided. */
export interface DetectorInput {
  data: Float32Array;
  height: number;
  width: number;
}

/**
 * The shortest side the detector is given. Detectron's rule can shrink a flat banner below the backbone's stride (a
 * 3000 x 1 image became 400 x 1 for the tiny detector, whose first convolutions then had no rows left and failed
 * the run), so a short side under this is stretched to it: past 12.5:1 for the tiny detector's 224/400 sizes, 31:1
 * for ResNet-101's 600/1000; photos never come near it.
 */
const MIN_DETECTOR_SIDE = 32;

/**
 * Detectron's ResizeShortestEdge: the shortest side to min_size unless the longest would then pass max_size (the
 * comparison before rounding), each side rounded half up last, and never below `MIN_DETECTOR_SIDE` (or min_size,
 * if smaller). Returns [width, height].
 */
export function targetSize(
  width: number,
  height: number,
  minSize: number,
  maxSize: number,
): [number, number] {
  const scale = minSize / Math.min(width, height);
  let [h, w] = height < width ? [minSize, scale * width] : [scale * height, minSize];
  if (Math.max(h, w) > maxSize) {
    const shrink = maxSize / Math.max(h, w);
    h *= shrink;
    w *= shrink;
  }
  const least = Math.min(MIN_DETECTOR_SIDE, minSize);
  return [Math.max(least, Math.floor(w + 0.5)), Math.max(least, Math.floor(h + 0.5))];
}

const f32 = Math.fround;

/** Source indices and weights of each output position along one axis, as ATen's upsample_bilinear2d has them. */
function axis(
  inSize: number,
  outSize: number,
): { i0: Int32Array; i1: Int32Array; w0: Float32Array; w1: Float32Array } {
  const scale = f32(inSize / outSize); // a float32 scale, then the source index in double (measured on ATen)
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize);
  const w1 = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const real = Math.max(0, scale * (o + 0.5) - 0.5); // align_corners=False
    const lo = Math.min(Math.floor(real), inSize - 1);
    const lambda = Math.min(Math.max(real - lo, 0), 1);
    i0[o] = lo;
    i1[o] = lo < inSize - 1 ? lo + 1 : lo;
    w0[o] = 1 - lambda;
    w1[o] = lambda;
  }
  return { i0, i1, w0, w1 };
}

/**
 * Resizes with bilinear interpolation as PyTorch's `interpolate(..., align_corners=False)` does it (no antialias;
 * float32 weights and blending, the two source rows blended last), converts to the manifest's colour order and
 * normalizes, in one pass straight into CHW layout. Within about one float32 ulp of the reference, which matters:
 * the RPN's top-k and NMS turn small input differences into different boxes.
 */
export function preprocess(image: RgbImage, input: DetectorManifest["input"]): DetectorInput {
  const [w, h] = targetSize(image.width, image.height, input.min_size, input.max_size);
  const out = new Float32Array(3 * h * w);
  const xs = axis(image.width, w);
  const ys = axis(image.height, h);
  // channel c of the output reads RGB channel order[c]
  const order = input.color === "BGR" ? [2, 1, 0] : [0, 1, 2];
  const mean = input.pixel_mean.map(f32);
  const std = input.pixel_std.map(f32);
  const src = image.data;
  const stride = image.width * 3;
  for (let y = 0; y < h; y++) {
    const r0 = ys.i0[y]! * stride;
    const r1 = ys.i1[y]! * stride;
    const wy0 = ys.w0[y]!;
    const wy1 = ys.w1[y]!;
    for (let x = 0; x < w; x++) {
      const c0 = xs.i0[x]! * 3;
      const c1 = xs.i1[x]! * 3;
      const wx0 = xs.w0[x]!;
      const wx1 = xs.w1[x]!;
      for (let ch = 0; ch < 3; ch++) {
        const k = order[ch]!;
        const top = f32(f32(src[r0 + c0 + k]! * wx0) + f32(src[r0 + c1 + k]! * wx1));
        const bottom = f32(f32(src[r1 + c0 + k]! * wx0) + f32(src[r1 + c1 + k]! * wx1));
        const v = f32(f32(top * wy0) + f32(bottom * wy1));
        out[ch * h * w + y * w + x] = f32(f32(v - mean[ch]!) / std[ch]!);
      }
    }
  }
  return { data: out, height: h, width: w };
}

import type { DetectorManifest } from "@lxtag/contracts";
import type { RgbImage } from "./decode.js";

/** The detector's input: float32 [1, 3, H, W] in the manifest's colour order, mean-subtracted, std-divided. */
export interface DetectorInput {
  data: Float32Array;
  height: number;
  width: number;
  scale: number;
}

/** Shortest side to min_size unless the longest would exceed max_size (Detectron's rule). */
export function targetSize(
  width: number,
  height: number,
  minSize: number,
  maxSize: number,
): [number, number, number] {
  let scale = minSize / Math.min(width, height);
  if (Math.round(scale * Math.max(width, height)) > maxSize) scale = maxSize / Math.max(width, height);
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)), scale];
}

/**
 * Resizes with bilinear interpolation matching PyTorch `interpolate(..., align_corners=False)` (no antialias),
 * converts to the manifest's colour order and normalizes, in one pass straight into CHW layout.
 */
export function preprocess(image: RgbImage, input: DetectorManifest["input"]): DetectorInput {
  const [w, h, scale] = targetSize(image.width, image.height, input.min_size, input.max_size);
  const out = new Float32Array(3 * h * w);
  const sx = image.width / w;
  const sy = image.height / h;
  // channel c of the output reads RGB channel order[c]
  const order = input.color === "BGR" ? [2, 1, 0] : [0, 1, 2];
  const src = image.data;
  const stride = image.width * 3;
  for (let y = 0; y < h; y++) {
    const fy = Math.max((y + 0.5) * sy - 0.5, 0);
    const y0 = Math.min(Math.floor(fy), image.height - 1);
    const y1 = Math.min(y0 + 1, image.height - 1);
    const dy = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.max((x + 0.5) * sx - 0.5, 0);
      const x0 = Math.min(Math.floor(fx), image.width - 1);
      const x1 = Math.min(x0 + 1, image.width - 1);
      const dx = fx - x0;
      const a = y0 * stride + x0 * 3;
      const b = y0 * stride + x1 * 3;
      const c = y1 * stride + x0 * 3;
      const d = y1 * stride + x1 * 3;
      for (let ch = 0; ch < 3; ch++) {
        const k = order[ch]!;
        const top = src[a + k]! * (1 - dx) + src[b + k]! * dx;
        const bottom = src[c + k]! * (1 - dx) + src[d + k]! * dx;
        out[ch * h * w + y * w + x] =
          (top * (1 - dy) + bottom * dy - input.pixel_mean[ch]!) / input.pixel_std[ch]!;
      }
    }
  }
  return { data: out, height: h, width: w, scale };
}

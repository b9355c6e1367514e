import { FEATURE_DIM, NUM_BOXES, ROI_FORMAT, ROI_FORMAT_V2, type RoiFormat } from "@lxtag/contracts";
import { float16ToFloat32, float32ToFloat16 } from "./float16.js";
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type Tensor } from "./safetensors.js";

/** One image's regions in the model's terms (CONTRACTS.md 2). */
export interface RoiFeatures {
  detectorId: string;
  imageWidth: number;
  imageHeight: number;
  numRealBoxes: number;
  /** [36 * 2048] float32 (stored as F16 in `lxtag-roi/1`, as 8 bits per value in `lxtag-roi/2`). */
  features: Float32Array;
  /** [36 * 4] (x1/W, y1/H, x2/W, y2/H), each in [0, 1]. */
  boxes: Float32Array;
  /** [36], 0 for padding rows. */
  scores: Float32Array;
}

/**
 * 8-bit features with a per-box affine scale (`lxtag-roi/2`): box b's values are `offset[b] + q * scale[b]`, with
 * `offset` its minimum and `scale` its range / 255, so the error of a value is at most half a step (range / 510).
 * Each box gets its own step because region features differ in magnitude from box to box (padding rows are 0).
 */
function quantize(features: Float32Array): { q: Uint8Array; scale: Float32Array; offset: Float32Array } {
  const q = new Uint8Array(NUM_BOXES * FEATURE_DIM);
  const scale = new Float32Array(NUM_BOXES);
  const offset = new Float32Array(NUM_BOXES);
  for (let b = 0; b < NUM_BOXES; b++) {
    const row = features.subarray(b * FEATURE_DIM, (b + 1) * FEATURE_DIM);
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const v of row) {
      if (!Number.isFinite(v)) throw new SafetensorsError(`box ${b} has a feature that is not finite`);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    // stored as F32: the step is what the reader multiplies by, so both sides use the same rounded values
    offset[b] = lo;
    scale[b] = (hi - lo) / 255;
    const step = scale[b]!;
    const base = offset[b]!;
    if (step === 0) continue; // a constant row (padding): every q stays 0
    for (let i = 0; i < FEATURE_DIM; i++)
      q[b * FEATURE_DIM + i] = Math.min(255, Math.max(0, Math.round((row[i]! - base) / step)));
  }
  return { q, scale, offset };
}

function dequantize(
  q: Uint8Array,
  scale: Float32Array,
  offset: Float32Array,
  out: Float32Array = new Float32Array(NUM_BOXES * FEATURE_DIM),
  at = 0,
): Float32Array {
  // unrolled by four (FEATURE_DIM is a multiple of 4): a third less time than the plain loop in V8, and this loop
  // is most of what decoding a post's RoI object costs on the predict path
  for (let b = 0; b < NUM_BOXES; b++) {
    const step = scale[b]!;
    const base = offset[b]!;
    const from = b * FEATURE_DIM;
    const to = at + from;
    for (let i = 0; i < FEATURE_DIM; i += 4) {
      out[to + i] = base + q[from + i]! * step;
      out[to + i + 1] = base + q[from + i + 1]! * step;
      out[to + i + 2] = base + q[from + i + 2]! * step;
      out[to + i + 3] = base + q[from + i + 3]! * step;
    }
  }
  return out;
}

/**
 * Encodes one image's RoIs (CONTRACTS.md 2) as `format`:
 * - `lxtag-roi/1` (the default, the shared contract): `features` F16 [36, 2048], `boxes` F32 [36, 4], `scores`
 *   F32 [36]; about 150 kB.
 * - `lxtag-roi/2` (lxtag's 8-bit version): `features` U8 [36, 2048], `feature_scale` F32 [36] and `feature_offset`
 *   F32 [36] (value = offset + q * scale, per box), `boxes` and `scores` as in 1; about 75 kB. The same metadata.
 */
export function encodeRoi(roi: RoiFeatures, format: RoiFormat = ROI_FORMAT): Buffer {
  if (roi.features.length !== NUM_BOXES * FEATURE_DIM)
    throw new SafetensorsError(`features must be ${NUM_BOXES}x${FEATURE_DIM}`);
  let features: Record<string, Tensor>;
  if (format === ROI_FORMAT_V2) {
    const { q, scale, offset } = quantize(roi.features);
    features = {
      features: { dtype: "U8", shape: [NUM_BOXES, FEATURE_DIM], data: q },
      feature_scale: { dtype: "F32", shape: [NUM_BOXES], data: scale },
      feature_offset: { dtype: "F32", shape: [NUM_BOXES], data: offset },
    };
  } else if (format === ROI_FORMAT) {
    features = {
      features: { dtype: "F16", shape: [NUM_BOXES, FEATURE_DIM], data: float32ToFloat16(roi.features) },
    };
  } else throw new SafetensorsError(`unknown RoI format ${String(format)}`);
  return encodeSafetensors(
    {
      ...features,
      boxes: { dtype: "F32", shape: [NUM_BOXES, 4], data: roi.boxes },
      scores: { dtype: "F32", shape: [NUM_BOXES], data: roi.scores },
    },
    {
      format,
      detector: roi.detectorId,
      image_w: String(roi.imageWidth),
      image_h: String(roi.imageHeight),
      num_real_boxes: String(roi.numRealBoxes),
    },
  );
}

/**
 * Decodes an RoI object of either format (`lxtag-roi/1` or `/2`) to float32 features; `featuresOut`/`offset`
 * let a batch decode straight into its input tensor.
 */
export function decodeRoi(buf: Buffer, featuresOut?: Float32Array, offset = 0): RoiFeatures {
  const { tensors, metadata } = decodeSafetensors(buf);
  const { features, boxes, scores } = tensors;
  if (boxes?.dtype !== "F32" || scores?.dtype !== "F32")
    throw new SafetensorsError("RoI object lacks boxes F32 or scores F32");
  let values: Float32Array;
  if (metadata.format === ROI_FORMAT) {
    if (features?.dtype !== "F16") throw new SafetensorsError(`${ROI_FORMAT} object lacks features F16`);
    values = float16ToFloat32(features.data as Uint16Array, featuresOut, offset);
  } else if (metadata.format === ROI_FORMAT_V2) {
    const { feature_scale: scale, feature_offset: base } = tensors;
    if (features?.dtype !== "U8" || scale?.dtype !== "F32" || base?.dtype !== "F32")
      throw new SafetensorsError(
        `${ROI_FORMAT_V2} object lacks features U8, feature_scale or feature_offset F32`,
      );
    if (features.data.length !== NUM_BOXES * FEATURE_DIM || scale.data.length !== NUM_BOXES)
      throw new SafetensorsError(`${ROI_FORMAT_V2} features must be ${NUM_BOXES}x${FEATURE_DIM}`);
    values = dequantize(
      features.data as Uint8Array,
      scale.data as Float32Array,
      base.data as Float32Array,
      featuresOut,
      offset,
    );
  } else
    throw new SafetensorsError(`not an ${ROI_FORMAT} or ${ROI_FORMAT_V2} object (format ${metadata.format})`);
  return {
    detectorId: metadata.detector ?? "",
    imageWidth: Number(metadata.image_w),
    imageHeight: Number(metadata.image_h),
    numRealBoxes: Number(metadata.num_real_boxes),
    features: values,
    // copies (720 bytes): views would keep the whole object's bytes alive as long as the caller keeps these
    boxes: (boxes.data as Float32Array).slice(),
    scores: (scores.data as Float32Array).slice(),
  };
}

import { FEATURE_DIM, NUM_BOXES, ROI_FORMAT } from "@lxtag/contracts";
import { float16ToFloat32, float32ToFloat16 } from "./float16.js";
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from "./safetensors.js";

/** One image's regions in the model's terms (CONTRACTS.md 2). */
export interface RoiFeatures {
  detectorId: string;
  imageWidth: number;
  imageHeight: number;
  numRealBoxes: number;
  /** [36 * 2048] float32 (stored as F16). */
  features: Float32Array;
  /** [36 * 4] (x1/W, y1/H, x2/W, y2/H), each in [0, 1]. */
  boxes: Float32Array;
  /** [36], 0 for padding rows. */
  scores: Float32Array;
}

export function encodeRoi(roi: RoiFeatures): Buffer {
  if (roi.features.length !== NUM_BOXES * FEATURE_DIM)
    throw new SafetensorsError(`features must be ${NUM_BOXES}x${FEATURE_DIM}`);
  return encodeSafetensors(
    {
      features: { dtype: "F16", shape: [NUM_BOXES, FEATURE_DIM], data: float32ToFloat16(roi.features) },
      boxes: { dtype: "F32", shape: [NUM_BOXES, 4], data: roi.boxes },
      scores: { dtype: "F32", shape: [NUM_BOXES], data: roi.scores },
    },
    {
      format: ROI_FORMAT,
      detector: roi.detectorId,
      image_w: String(roi.imageWidth),
      image_h: String(roi.imageHeight),
      num_real_boxes: String(roi.numRealBoxes),
    },
  );
}

/** Decodes an RoI object; `featuresOut`/`offset` let a batch decode straight into its input tensor. */
export function decodeRoi(buf: Buffer, featuresOut?: Float32Array, offset = 0): RoiFeatures {
  const { tensors, metadata } = decodeSafetensors(buf);
  if (metadata.format !== ROI_FORMAT)
    throw new SafetensorsError(`not an ${ROI_FORMAT} object (format ${metadata.format})`);
  const { features, boxes, scores } = tensors;
  if (features?.dtype !== "F16" || boxes?.dtype !== "F32" || scores?.dtype !== "F32")
    throw new SafetensorsError("RoI object lacks features F16, boxes F32 or scores F32");
  return {
    detectorId: metadata.detector ?? "",
    imageWidth: Number(metadata.image_w),
    imageHeight: Number(metadata.image_h),
    numRealBoxes: Number(metadata.num_real_boxes),
    features: float16ToFloat32(features.data as Uint16Array, featuresOut, offset),
    boxes: boxes.data as Float32Array,
    scores: scores.data as Float32Array,
  };
}

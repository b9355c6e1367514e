import { z } from "zod";

/**
 * CONTRACTS.md section 2: where one image's RoI tensors live. `lxtag-roi/1`: F16 features (about 150 kB);
 * `lxtag-roi/2` (lxtag's addition, documented in the README and `@lxtag/storage`'s codec): U8 features with an F32
 * scale and offset per box (about 75 kB). Readers take both; writers choose.
 */
export const ROI_FORMAT = "lxtag-roi/1";
/** 8-bit features, per-box affine: `x = offset[box] + q * scale[box]`. */
export const ROI_FORMAT_V2 = "lxtag-roi/2";
export const ROI_FORMATS = [ROI_FORMAT, ROI_FORMAT_V2] as const;
export type RoiFormat = (typeof ROI_FORMATS)[number];
/**
 * Where ingest stores an export's image: content-addressed, so a post's `imageSha256` names its bytes and the
 * feature worker may look its RoIs up by that hash without reading the image.
 */
export const imageObjectKey = (imageSha256: string) => `images/${imageSha256}`;
export const roiCacheKey = (detectorId: string, imageSha256: string) =>
  `features/${detectorId}/${imageSha256}.safetensors`;
export const modelBundlePrefix = (modelVersionId: string) => `models/${modelVersionId}/`;
export const detectorBundlePrefix = (detectorId: string) => `detectors/${detectorId}/`;

/** The S3 object naming the serving detector: `{"id": "<detectorId>"}`. */
export const CURRENT_DETECTOR_KEY = "detectors/current.json";
export const currentDetectorSchema = z.object({ id: z.string().min(1) });

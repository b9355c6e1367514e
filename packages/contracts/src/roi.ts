import { z } from "zod";

/** CONTRACTS.md section 2: where one image's RoI tensors live. */
export const ROI_FORMAT = "lxtag-roi/1";
export const roiCacheKey = (detectorId: string, imageSha256: string) =>
  `features/${detectorId}/${imageSha256}.safetensors`;
export const modelBundlePrefix = (modelVersionId: string) => `models/${modelVersionId}/`;
export const detectorBundlePrefix = (detectorId: string) => `detectors/${detectorId}/`;

/** The S3 object naming the serving detector: `{"id": "<detectorId>"}`. */
export const CURRENT_DETECTOR_KEY = "detectors/current.json";
export const currentDetectorSchema = z.object({ id: z.string().min(1) });

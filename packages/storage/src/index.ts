export { BundleIntegrityError, fetchBundle, publishBundle, publishModelBundle } from "./bundle.js";
export { float16ToFloat32, float32ToFloat16 } from "./float16.js";
export { ObjectNotFoundError, ObjectStore, type ObjectStoreOptions } from "./object-store.js";
export { decodeRoi, encodeRoi, type RoiFeatures } from "./roi.js";
export {
  type DType,
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type Tensor,
} from "./safetensors.js";
export type { FileBody } from "./signed-requests.js";

export {
  type BatcherStats,
  type BatchRunner,
  DynamicBatcher,
  type DynamicBatcherOptions,
} from "./dynamic-batcher.js";
export {
  BOXES_PER_POST,
  FEATURES_PER_POST,
  HashtagModel,
  ModelBatch,
  type ModelInput,
  type Ranked,
} from "./hashtag-model.js";
export { checkModelBundle, ModelContractError } from "./model-contract.js";
export { InferenceError, ModelLoadError, OrtSession, type OrtSessionOptions } from "./ort-session.js";
export type { Feeds, TensorType, WireTensor } from "./session-protocol.js";

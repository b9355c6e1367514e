// What the benchmarks use of this workspace: the apps as processes, the REST client, synthetic exports.
export { engineCommand, ROOT, SERVICES, type ServiceName, trainerCommand } from "./apps.js";
export { type BatchSummary, LxtagClient, type PostResult } from "./client.js";
export { cpuDuring } from "./cpu-time.js";
export { IsolatedPipeline } from "./isolated-pipeline.js";
export {
  dropScaleRuns,
  type ExactlyOnce,
  RSS_CEILING_MIB,
  restartServices,
  runScaleExport,
  SCALE_SETTINGS,
  SCALE_TEST_EXPORT,
  type ScaleExport,
  type ScaleRun,
  writeScaleExport,
} from "./scale.js";
export { LocalStack } from "./stack.js";
export {
  type ExportZipOptions,
  noisePhotos,
  type SyntheticPost,
  syntheticPosts,
  writeExportZips,
} from "./synthetic-export.js";

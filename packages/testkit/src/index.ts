// Test support shared by several workspaces' tests; a devDependency only, never imported by production code.

export { scratchDatabase } from "@lxtag/db";
export { engineCommand } from "./engine.js";
export { waitForJob } from "./jobs.js";
export {
  CORPUS,
  type RandomModelOptions,
  randomModelBundle,
  type TrainedModelOptions,
  trainedModelBundle,
} from "./model-bundle.js";
export { S3Proxy } from "./s3-proxy.js";
export { TcpProxy } from "./tcp-proxy.js";
export { type PostQueue, testEnv, WorkerHarness } from "./worker-harness.js";

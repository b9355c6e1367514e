export { type BatchSummary, LxtagClient, type PostResult } from "./demo/client.js";
export { IsolatedPipeline } from "./demo/isolated-pipeline.js";
export { LocalStack } from "./demo/stack.js";
export { ensureDetector } from "./detector-bundle.js";
export { ENGINE_DIR, runEngine } from "./engine.js";
export { publishModel } from "./publish.js";
export { type SyntheticPost, syntheticPosts, writeExportZips } from "./synthetic-export.js";

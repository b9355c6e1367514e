export * from "./api.js";
export * from "./bundles.js";
export * from "./queues.js";
export * from "./roi.js";

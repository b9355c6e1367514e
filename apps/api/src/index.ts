// What other workspaces (benchmarks) use of the API app.
export { type IngestDeps, runIngest } from "./ingest/ingest-job.js";

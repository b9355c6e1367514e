// Test helpers for the services lxtag runs on; `@lxtag/runtime/testing`, never imported by production code.
export { waitForJob } from "./jobs.js";
export { TcpProxy } from "./tcp-proxy.js";

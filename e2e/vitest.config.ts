import { defineConfig } from "vitest/config";

// a poll waits up to 10 s: vitest's default (1 s) is one slow moment on a loaded machine
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    expect: { poll: { timeout: 10_000 } },
  },
});

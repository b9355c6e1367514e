/**
 * The vitest settings of a workspace whose tests run the real services (Redis, Postgres, S3, ONNX models): generous
 * timeouts; files one after another (the machine may have 2 cores, and the files share the services); a poll that
 * waits up to 10 s, where vitest's default (1 s) is one slow moment on a loaded machine. Kept apart from the index
 * so that loading a config does not load the harnesses.
 */
export function realServicesTestConfig({ hookTimeoutMs }: { hookTimeoutMs: number }) {
  return {
    test: {
      testTimeout: 60_000,
      hookTimeout: hookTimeoutMs,
      fileParallelism: false,
      expect: { poll: { timeout: 10_000 } },
    },
  };
}

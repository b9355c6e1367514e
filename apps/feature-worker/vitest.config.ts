import { defineConfig } from "vitest/config";

// real services and a real detector: generous timeouts; files one after another (the machine may have 2 cores)
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 120_000, fileParallelism: false } });

import { realServicesTestConfig } from "@lxtag/testkit/vitest-config";
import { defineConfig } from "vitest/config";

export default defineConfig(realServicesTestConfig({ hookTimeoutMs: 180_000 }));

import { defineConfig } from "prisma/config";

// Used by `prisma generate` (and by `prisma migrate deploy` wherever the native engine can be downloaded).
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: Prisma tooling reads the same variable the services do
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://lxtag:lxtag@127.0.0.1:5432/lxtag" },
});

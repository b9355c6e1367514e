// The Prisma schema and the SQL migrations describe the same tables: every model's columns, types and
// nullability match what the migrations create in a fresh database.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { migrate } from "./migrator.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const url = parseEnv(serviceEnvSchema, process.env).DATABASE_URL;
const SCALARS: Record<string, string> = {
  String: "text",
  Int: "integer",
  Float: "double precision",
  Boolean: "boolean",
  DateTime: "timestamp",
  Json: "jsonb",
};
const NATIVE: Record<string, string> = {
  Uuid: "uuid",
  Real: "real",
  Timestamptz: "timestamp with time zone",
};

function schemaTables() {
  const text = readFileSync(`${root}prisma/schema.prisma`, "utf8");
  const enums = new Set([...text.matchAll(/^enum (\w+)/gm)].map((m) => m[1]!));
  const models = new Set([...text.matchAll(/^model (\w+)/gm)].map((m) => m[1]!));
  const tables: Record<string, Record<string, { type: string; nullable: boolean }>> = {};
  for (const [, , body] of text.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)) {
    const table = /@@map\("(\w+)"\)/.exec(body!)![1]!;
    const cols: Record<string, { type: string; nullable: boolean }> = {};
    for (const line of body!.split("\n").map((l) => l.trim())) {
      const m = /^(\w+)\s+(\w+)(\[\])?(\?)?(.*)$/.exec(line);
      if (!m || line.startsWith("@@") || models.has(m[2]!)) continue;
      const [, field, type, list, optional, rest] = m;
      const column = /@map\("(\w+)"\)/.exec(rest!)?.[1] ?? field!;
      const native = /@db\.(\w+)/.exec(rest!)?.[1];
      let sqlType = native ? NATIVE[native]! : enums.has(type!) ? type! : SCALARS[type!]!;
      if (sqlType === "timestamp") sqlType = "timestamp without time zone";
      cols[column] = { type: list ? "ARRAY" : sqlType, nullable: Boolean(optional) || Boolean(list) };
    }
    tables[table] = cols;
  }
  return tables;
}

describe("schema.prisma vs prisma/migrations", () => {
  it("a fresh database migrated with the SQL files has exactly the schema's tables and columns", async () => {
    const name = `lxtag_schema_${randomUUID().slice(0, 8)}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const dbUrl = url.replace(/\/[^/]*$/, `/${name}`);
    try {
      const applied = await migrate(dbUrl, `${root}prisma/migrations`);
      expect(applied.length).toBeGreaterThan(0);
      expect(await migrate(dbUrl, `${root}prisma/migrations`)).toEqual([]); // idempotent
      const c = new pg.Client({ connectionString: dbUrl });
      await c.connect();
      const rows = await c.query<{
        table_name: string;
        column_name: string;
        data_type: string;
        udt_name: string;
        is_nullable: string;
      }>(
        `SELECT table_name, column_name, data_type, udt_name, is_nullable FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`,
      );
      await c.end();
      const db: Record<string, Record<string, { type: string; nullable: boolean }>> = {};
      for (const r of rows.rows) {
        db[r.table_name] ??= {};
        db[r.table_name]![r.column_name] = {
          type: r.data_type === "USER-DEFINED" ? r.udt_name : r.data_type,
          nullable: r.is_nullable === "YES",
        };
      }
      expect(db).toEqual(schemaTables());
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }, 60_000);
});

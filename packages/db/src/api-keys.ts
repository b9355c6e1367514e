import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Db } from "./client.js";

const hashKey = (raw: string) => createHash("sha256").update(raw).digest("hex");

/** API keys are stored as sha256 hashes; the raw key is shown once, at creation. */
export class ApiKeys {
  constructor(private readonly db: Db) {}

  async create(name: string): Promise<{ id: string; key: string }> {
    const key = `lxt_${randomBytes(24).toString("base64url")}`;
    const id = randomUUID();
    await this.db.prisma.apiKey.create({ data: { id, name, keyHash: hashKey(key) } });
    return { id, key };
  }

  /** Registers a key chosen by the operator (e.g. from configuration); idempotent. */
  async ensure(name: string, key: string): Promise<string> {
    const row = await this.db.prisma.apiKey.upsert({
      where: { keyHash: hashKey(key) },
      create: { id: randomUUID(), name, keyHash: hashKey(key) },
      update: {},
    });
    return row.id;
  }

  async verify(key: string): Promise<string | null> {
    const row = await this.db.prisma.apiKey.findUnique({ where: { keyHash: hashKey(key) } });
    return row && !row.revokedAt ? row.id : null;
  }
}

import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Db } from "./client.js";

const hashKey = (raw: string) => createHash("sha256").update(raw).digest("hex");

/** Who a valid key belongs to: its id, and whether it may manage the model registry. */
export interface ApiKeyIdentity {
  id: string;
  admin: boolean;
}

export interface ApiKeyOptions {
  /** May manage the model registry and sees every model version. @defaultValue false */
  admin?: boolean;
}

/** API keys are stored as sha256 hashes; the raw key is shown once, at creation. */
export class ApiKeys {
  constructor(private readonly db: Db) {}

  async create(name: string, { admin = false }: ApiKeyOptions = {}): Promise<{ id: string; key: string }> {
    const key = `lxt_${randomBytes(24).toString("base64url")}`;
    const id = randomUUID();
    await this.db.prisma.apiKey.create({ data: { id, name, keyHash: hashKey(key), admin } });
    return { id, key };
  }

  /**
   * Registers a key chosen by the operator (e.g. from configuration); idempotent. The configuration decides the
   * admin flag: a registered key moved between plain and admin keys follows it.
   */
  async ensure(name: string, key: string, { admin = false }: ApiKeyOptions = {}): Promise<string> {
    const row = await this.db.prisma.apiKey.upsert({
      where: { keyHash: hashKey(key) },
      create: { id: randomUUID(), name, keyHash: hashKey(key), admin },
      update: { admin },
    });
    return row.id;
  }

  /** The key's identity, or null for an unknown or revoked key. */
  async identify(key: string): Promise<ApiKeyIdentity | null> {
    const row = await this.db.prisma.apiKey.findUnique({ where: { keyHash: hashKey(key) } });
    return row && !row.revokedAt ? { id: row.id, admin: row.admin } : null;
  }

  /** The key's id, or null for an unknown or revoked key. */
  async verify(key: string): Promise<string | null> {
    return (await this.identify(key))?.id ?? null;
  }
}

import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Db } from "./client.js";

const hashKey = (raw: string) => createHash("sha256").update(raw).digest("hex");

/**
 * Who a valid key belongs to: its id, whether it may manage the model registry, and whether it was registered from
 * an API's configuration (then an API accepts it only while its own configuration lists it).
 */
export interface ApiKeyIdentity {
  id: string;
  admin: boolean;
  configured: boolean;
}

export interface ApiKeyOptions {
  /** May manage the model registry and sees every model version. @defaultValue false */
  admin?: boolean;
}

export interface EnsureKeyOptions extends ApiKeyOptions {
  /**
   * The key comes from the API's configuration (LXTAG_API_KEYS, LXTAG_ADMIN_API_KEYS), so it is valid only while
   * the configuration lists it: removing it there and restarting the API is enough to revoke it. @defaultValue false
   */
  configured?: boolean;
}

/** A key as `list` shows it: never the key itself, which is stored only as its hash. */
export interface ApiKeyEntry {
  id: string;
  name: string;
  admin: boolean;
  configured: boolean;
  createdAt: Date;
  revokedAt: Date | null;
}

const ENTRY = {
  id: true,
  name: true,
  admin: true,
  configured: true,
  createdAt: true,
  revokedAt: true,
} as const;

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
   * Registers a key chosen by the operator (e.g. from configuration); idempotent. The caller decides the admin and
   * configured flags: a registered key moved between plain and admin keys follows it.
   */
  async ensure(
    name: string,
    key: string,
    { admin = false, configured = false }: EnsureKeyOptions = {},
  ): Promise<string> {
    const row = await this.db.prisma.apiKey.upsert({
      where: { keyHash: hashKey(key) },
      create: { id: randomUUID(), name, keyHash: hashKey(key), admin, configured },
      update: { admin, configured },
    });
    return row.id;
  }

  /** Every key, revoked ones included, oldest first. */
  list(): Promise<ApiKeyEntry[]> {
    return this.db.prisma.apiKey.findMany({
      select: ENTRY,
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    });
  }

  /**
   * Revokes the key: `identify` refuses it from now on (an API caches lookups for a few seconds). Its batches stay.
   * Returns the key, with the time it was first revoked, or null when no key has that id. A revoked key stays
   * revoked, even if the configuration still lists it (`ensure` does not restore it).
   */
  async revoke(id: string): Promise<ApiKeyEntry | null> {
    await this.db.prisma.apiKey.updateMany({
      where: { id, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    return this.db.prisma.apiKey.findUnique({ where: { id }, select: ENTRY });
  }

  /** The key's identity, or null for an unknown or revoked key. */
  async identify(key: string): Promise<ApiKeyIdentity | null> {
    const row = await this.db.prisma.apiKey.findUnique({ where: { keyHash: hashKey(key) } });
    return row && !row.revokedAt ? { id: row.id, admin: row.admin, configured: row.configured } : null;
  }

  /** The key's id, or null for an unknown or revoked key. */
  async verify(key: string): Promise<string | null> {
    return (await this.identify(key))?.id ?? null;
  }
}

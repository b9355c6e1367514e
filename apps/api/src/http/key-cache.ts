import type { ApiKeyIdentity } from "@lxtag/db";
import type { ApiKeyVerifier } from "./auth.js";

/** Cached lookups at most; the oldest go first once it is full (a flood of random keys cannot grow it). */
const MAX_ENTRIES = 10_000;

/**
 * An `ApiKeyVerifier` that remembers each answer for `ttlMs`, unknown keys included: every request needs its key's
 * identity, and a key revoked in Postgres (`npm run keys -- revoke`) is refused once its entry expires, so the TTL
 * is how long a revocation takes to reach a replica.
 */
export class CachedKeyVerifier implements ApiKeyVerifier {
  private readonly entries = new Map<string, { identity: ApiKeyIdentity | null; expires: number }>();

  constructor(
    private readonly keys: ApiKeyVerifier,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async identify(key: string): Promise<ApiKeyIdentity | null> {
    if (this.ttlMs <= 0) return this.keys.identify(key);
    const hit = this.entries.get(key);
    if (hit && hit.expires > this.now()) return hit.identity;
    const identity = await this.keys.identify(key);
    this.entries.delete(key); // re-inserted last: Map order is insertion order, so the first entry is the oldest
    this.entries.set(key, { identity, expires: this.now() + this.ttlMs });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    return identity;
  }
}

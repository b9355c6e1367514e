import type { ApiKeyIdentity } from "@lxtag/db";
import type { ApiKeyVerifier } from "./auth.js";

/**
 * An `ApiKeyVerifier` that refuses keys registered from a configuration (LXTAG_API_KEYS, LXTAG_ADMIN_API_KEYS)
 * which this API's configuration does not list: removing a key there and restarting the API revokes it, without a
 * `keys revoke`. Keys made with `npm run keys -- create` are not configured, and pass through.
 */
export class ConfiguredKeysFilter implements ApiKeyVerifier {
  private readonly listed: ReadonlySet<string>;

  constructor(
    private readonly keys: ApiKeyVerifier,
    listed: Iterable<string>,
  ) {
    this.listed = new Set(listed);
  }

  async identify(key: string): Promise<ApiKeyIdentity | null> {
    const identity = await this.keys.identify(key);
    return identity?.configured && !this.listed.has(key) ? null : identity;
  }
}

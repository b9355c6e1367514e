import { describe, expect, it } from "vitest";
import { configuredKeys, loadConfig } from "./config.js";

const keys = (env: Record<string, string>) => configuredKeys(loadConfig(env));

describe("configuredKeys", () => {
  it("registers the development key and the development admin key when neither variable is set", () => {
    expect(keys({})).toEqual([
      { name: "dev", key: "lxtag-dev-key", admin: false },
      { name: "admin", key: "lxtag-dev-admin-key", admin: true },
    ]);
  });

  it("drops both development keys once either variable is set", () => {
    expect(keys({ LXTAG_API_KEYS: "a:k1" })).toEqual([{ name: "a", key: "k1", admin: false }]);
    expect(keys({ LXTAG_ADMIN_API_KEYS: "ops:k2" })).toEqual([{ name: "ops", key: "k2", admin: true }]);
    expect(keys({ LXTAG_API_KEYS: "", LXTAG_ADMIN_API_KEYS: "" })).toEqual([]);
  });

  it("reads name:key lists (a key may hold colons; a bare key is named 'key'), and a key in both is an admin", () => {
    expect(
      keys({ LXTAG_API_KEYS: " a:k1 , b:x:y ,, bare", LXTAG_ADMIN_API_KEYS: "ops:k2,again:k1" }),
    ).toEqual([
      { name: "again", key: "k1", admin: true },
      { name: "b", key: "x:y", admin: false },
      { name: "key", key: "bare", admin: false },
      { name: "ops", key: "k2", admin: true },
    ]);
  });
});

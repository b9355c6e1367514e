import { modelManifestSchema, type Vocabulary } from "@lxtag/contracts";
import type { ApiKeyIdentity, ModelVersions } from "@lxtag/db";

/** The hashtags a reviewer picks from: the serving model's outputs. */
export class VocabularyService {
  constructor(private readonly models: ModelVersions) {}

  /**
   * The active model's hashtags (it ranks every key's posts); without one, those of the newest model the key sees
   * (one that predicted its posts), so a fresh install's reviewers still get suggestions.
   */
  async forKey(key: ApiKeyIdentity): Promise<Vocabulary> {
    const row = (await this.models.active()) ?? (await this.models.list(key.admin ? undefined : key.id))[0];
    if (!row) return { modelVersion: null, hashtags: [] };
    return { modelVersion: row.id, hashtags: modelManifestSchema.parse(row.manifest).hashtags };
  }
}

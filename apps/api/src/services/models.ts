import {
  type ActivateModelQuery,
  CURRENT_DETECTOR_KEY,
  currentDetectorSchema,
  type ModelDetail,
  type ModelVersionEntry,
  modelManifestSchema,
} from "@lxtag/contracts";
import { type ApiKeyIdentity, ModelVersionRefusedError, type ModelVersions } from "@lxtag/db";
import { ObjectNotFoundError, type ObjectStore } from "@lxtag/storage";
import { DetectorMismatchError, ModelRefusedError, NotFoundError } from "../errors.js";

type ModelRow = NonNullable<Awaited<ReturnType<ModelVersions["find"]>>>;

/**
 * The registry as a key sees it: its metrics from the row, nothing else of the manifest; which worker refused it
 * and why (a host, a process id, an error that may name paths) for admin keys only.
 */
function entry(
  { manifest: _m, refusedAt, refusedBy, refusedReason, ...m }: ModelRow,
  key: ApiKeyIdentity,
): ModelVersionEntry {
  const refusal = refusedAt && {
    at: refusedAt,
    ...(key.admin && { by: refusedBy ?? "", reason: refusedReason ?? "" }),
  };
  return { ...m, metrics: m.metrics as ModelVersionEntry["metrics"], refusal: refusal || null };
}

/** One version with what its manifest says about it (the manifest was checked when the version was registered). */
function detail(row: ModelRow, key: ApiKeyIdentity): ModelDetail {
  const manifest = modelManifestSchema.parse(row.manifest);
  return { ...entry(row, key), hashtagNames: manifest.hashtags, dataset: manifest.dataset };
}

/**
 * The model registry over the API: a plain key sees the versions that predicted posts of its batches, an admin key
 * sees all and chooses the serving one.
 */
export class ModelService {
  constructor(private readonly deps: { models: ModelVersions; store: ObjectStore }) {}

  async list(key: ApiKeyIdentity): Promise<ModelVersionEntry[]> {
    return (await this.deps.models.list(key.admin ? undefined : key.id)).map((row) => entry(row, key));
  }

  async find(id: string, key: ApiKeyIdentity): Promise<ModelDetail> {
    return detail(await this.row(id, key), key);
  }

  /**
   * Makes a version the serving model (the previous one is retired; activating an older one rolls back), once its
   * detector is the serving detector: a model is never fed another detector's features. A version a predict worker
   * refused is activated only with `force` (else `ModelRefusedError`), which clears the refusal.
   */
  async activate(
    id: string,
    key: ApiKeyIdentity,
    { force }: ActivateModelQuery = { force: false },
  ): Promise<ModelDetail> {
    const row = await this.row(id, key);
    const serving = await this.servingDetector();
    if (row.detectorId !== serving) throw new DetectorMismatchError(id, row.detectorId, serving);
    try {
      return detail(await this.deps.models.activate(id, { force }), key);
    } catch (err) {
      if (err instanceof ModelVersionRefusedError) throw new ModelRefusedError(err);
      throw err;
    }
  }

  private async row(id: string, key: ApiKeyIdentity): Promise<ModelRow> {
    const row = await this.deps.models.find(id, key.admin ? undefined : key.id);
    if (!row) throw new NotFoundError("model", id);
    return row;
  }

  /** The detector `detectors/current.json` names, or null when none is published. */
  private async servingDetector(): Promise<string | null> {
    try {
      const body = await this.deps.store.get(CURRENT_DETECTOR_KEY);
      return currentDetectorSchema.parse(JSON.parse(body.toString())).id;
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return null;
      throw err;
    }
  }
}

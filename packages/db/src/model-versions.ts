import type { ModelManifest } from "@lxtag/contracts";
import type { Db } from "./client.js";
import type { ModelVersion } from "./generated/client.js";

// advisory lock: activations run one at a time, so two racing ones cannot leave two active versions
const ACTIVATE_LOCK_ID = 72707370;

/** Versions that predicted posts of the key's batches: what a key may see of the registry. */
const usedBy = (apiKeyId: string) => ({ predictions: { some: { post: { batch: { apiKeyId } } } } });

export class ModelVersionNotFoundError extends Error {
  override name = "ModelVersionNotFoundError";
  constructor(readonly id: string) {
    super(`model version ${id} not found`);
  }
}

/** Activating, without `force`, a version a predict worker refused (it failed its warm-up run there). */
export class ModelVersionRefusedError extends Error {
  override name = "ModelVersionRefusedError";
  constructor(
    readonly id: string,
    readonly at: Date,
    readonly by: string,
    readonly reason: string,
  ) {
    super(`a predict worker refused model version ${id} at ${at.toISOString()}: ${reason}`);
  }
}

/** Longest refusal reason kept (an ONNX Runtime error can run to pages). */
const MAX_REFUSAL_REASON = 1000;

/** The model registry: which bundles exist and which one serves. */
export class ModelVersions {
  constructor(private readonly db: Db) {}

  async register(manifest: ModelManifest, bundlePrefix: string): Promise<ModelVersion> {
    return this.db.prisma.modelVersion.upsert({
      where: { id: manifest.id },
      create: {
        id: manifest.id,
        architecture: manifest.architecture,
        bundlePrefix,
        detectorId: manifest.detector,
        hashtags: manifest.hashtags.length,
        metrics: manifest.metrics as object,
        manifest: manifest as unknown as object,
      },
      update: {},
    });
  }

  /**
   * Makes one version the serving model; the previous active one is retired (activating a retired version is how
   * to roll back). Activating the active version changes nothing; an unknown id is `ModelVersionNotFoundError`. A
   * version a predict worker refused is `ModelVersionRefusedError`, unless `force`: that clears the refusal, and
   * workers that refused it warm it up anew (a memory shortage, say, may have passed).
   */
  async activate(id: string, { force = false }: { force?: boolean } = {}): Promise<ModelVersion> {
    return this.db.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${ACTIVATE_LOCK_ID})`;
      const current = await tx.modelVersion.findUnique({ where: { id } });
      if (!current) throw new ModelVersionNotFoundError(id);
      if (current.refusedAt && !force)
        throw new ModelVersionRefusedError(
          id,
          current.refusedAt,
          current.refusedBy ?? "",
          current.refusedReason ?? "",
        );
      const cleared = { refusedAt: null, refusedBy: null, refusedReason: null };
      if (current.state === "active")
        return current.refusedAt ? tx.modelVersion.update({ where: { id }, data: cleared }) : current;
      await tx.modelVersion.updateMany({ where: { state: "active" }, data: { state: "retired" } });
      return tx.modelVersion.update({
        where: { id },
        data: { state: "active", activatedAt: new Date(), ...cleared },
      });
    });
  }

  /**
   * Records that this process (a predict worker) refused a version: it failed its warm-up run here. `by` is the
   * connection's own `application_name`, as `pg_stat_activity` shows it. The first refusal is kept until an
   * activation with `force` clears it. Resolves with the time of the refusal the registry holds (this one or an
   * earlier one), null for an unknown version: a worker tries the version again once that changes.
   */
  async refuse(id: string, reason: string): Promise<Date | null> {
    const { rows } = await this.db.pool.query<{ refused_at: Date }>(
      `WITH refused AS (
         UPDATE model_versions SET refused_at = now(), refused_by = current_setting('application_name'),
           refused_reason = left($2, ${MAX_REFUSAL_REASON})
         WHERE id = $1 AND refused_at IS NULL RETURNING refused_at
       )
       SELECT refused_at FROM refused
       UNION ALL SELECT refused_at FROM model_versions WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM refused)`,
      [id, reason],
    );
    return rows[0]?.refused_at ?? null;
  }

  /** One version; with `apiKeyId`, only if it predicted posts of that key's batches. */
  find(id: string, apiKeyId?: string): Promise<ModelVersion | null> {
    return this.db.prisma.modelVersion.findFirst({
      where: { id, ...(apiKeyId === undefined ? {} : usedBy(apiKeyId)) },
    });
  }

  active(): Promise<ModelVersion | null> {
    return this.db.prisma.modelVersion.findFirst({
      where: { state: "active" },
      orderBy: { activatedAt: "desc" },
    });
  }

  /**
   * The newest activated version no predict worker refused: while a worker refused the active version, what the
   * workers that refused it went on serving. Null when none.
   */
  newestUnrefused(): Promise<ModelVersion | null> {
    return this.db.prisma.modelVersion.findFirst({
      where: { activatedAt: { not: null }, refusedAt: null },
      orderBy: { activatedAt: "desc" },
    });
  }

  /** Versions newest first; with `apiKeyId`, only those that predicted posts of that key's batches. */
  list(apiKeyId?: string): Promise<ModelVersion[]> {
    return this.db.prisma.modelVersion.findMany({
      where: apiKeyId === undefined ? {} : usedBy(apiKeyId),
      orderBy: { createdAt: "desc" },
    });
  }
}

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

/** A version a predict worker refused (it failed its warm-up run there): its bundle never changes, so it stays so. */
export class ModelVersionRefusedError extends Error {
  override name = "ModelVersionRefusedError";
  constructor(
    readonly id: string,
    readonly by: string,
    readonly reason: string,
  ) {
    super(
      `model version ${id} failed its warm-up run on a predict worker (${by}), which does not serve it: ${reason}`,
    );
  }
}

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
   * to roll back). Activating the active version changes nothing; an unknown id is `ModelVersionNotFoundError`, a
   * version a worker refused `ModelVersionRefusedError`.
   */
  async activate(id: string): Promise<ModelVersion> {
    return this.db.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${ACTIVATE_LOCK_ID})`;
      const current = await tx.modelVersion.findUnique({ where: { id } });
      if (!current) throw new ModelVersionNotFoundError(id);
      if (current.state === "active") return current;
      if (current.refusedAt)
        throw new ModelVersionRefusedError(id, current.refusedBy ?? "", current.refusedReason ?? "");
      await tx.modelVersion.updateMany({ where: { state: "active" }, data: { state: "retired" } });
      return tx.modelVersion.update({ where: { id }, data: { state: "active", activatedAt: new Date() } });
    });
  }

  /**
   * Records that the predict worker `by` refused a version (it failed its warm-up run there). The first refusal is
   * kept: every worker that loads the version refuses it in turn, for the same reason.
   */
  async refuse(id: string, by: string, reason: string): Promise<void> {
    await this.db.prisma.modelVersion.updateMany({
      where: { id, refusedAt: null },
      data: { refusedAt: new Date(), refusedBy: by, refusedReason: reason },
    });
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

  /** Versions newest first; with `apiKeyId`, only those that predicted posts of that key's batches. */
  list(apiKeyId?: string): Promise<ModelVersion[]> {
    return this.db.prisma.modelVersion.findMany({
      where: apiKeyId === undefined ? {} : usedBy(apiKeyId),
      orderBy: { createdAt: "desc" },
    });
  }
}

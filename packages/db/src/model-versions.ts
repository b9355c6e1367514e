import type { ModelManifest } from "@lxtag/contracts";
import type { Db } from "./client.js";
import type { ModelVersion } from "./generated/client.js";

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

  /** Makes one version the serving model; the previous active one is retired. */
  async activate(id: string): Promise<void> {
    await this.db.prisma.$transaction([
      this.db.prisma.modelVersion.updateMany({
        where: { state: "active", NOT: { id } },
        data: { state: "retired" },
      }),
      this.db.prisma.modelVersion.update({
        where: { id },
        data: { state: "active", activatedAt: new Date() },
      }),
    ]);
  }

  find(id: string): Promise<ModelVersion | null> {
    return this.db.prisma.modelVersion.findUnique({ where: { id } });
  }

  active(): Promise<ModelVersion | null> {
    return this.db.prisma.modelVersion.findFirst({
      where: { state: "active" },
      orderBy: { activatedAt: "desc" },
    });
  }

  list(): Promise<ModelVersion[]> {
    return this.db.prisma.modelVersion.findMany({ orderBy: { createdAt: "desc" } });
  }
}

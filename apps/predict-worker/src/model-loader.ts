import { join } from "node:path";
import type { Repositories } from "@lxtag/db";
import { HashtagModel } from "@lxtag/inference";
import { isTransientError, type Logger } from "@lxtag/runtime";
import { fetchBundle, type ObjectStore } from "@lxtag/storage";

export class NoActiveModelError extends Error {
  override name = "NoActiveModelError";
  constructor() {
    super("no model loaded yet: the registry has no active version (or not the pinned one)");
  }
}

export interface ModelLoaderDeps {
  repos: Repositories;
  store: ObjectStore;
  log: Logger;
  cacheDir: string;
  /** Serve this version instead of the registry's active one. */
  pinned?: string;
  providers: string[];
  threads: number;
  /**
   * Run on a newly loaded model before it serves (the predictor's warm-up); a model that fails it is released, not
   * swapped in, and recorded as refused in the registry.
   */
  warmUp?: (model: HashtagModel) => Promise<void>;
}

/** A loaded model and the micro-batches running on it. */
interface Loaded {
  model: HashtagModel;
  leases: number;
}

/**
 * Keeps the version that should serve (the pinned one, else the registry's active one) loaded, and swaps in a
 * newly activated one between micro-batches: each batch holds the model it started with until it is written, and
 * a replaced model is released only when its last batch is done.
 */
export class ModelLoader {
  private current: Loaded | undefined;
  private readonly retired = new Set<Loaded>();
  /**
   * The version that should serve but failed its warm-up: not loaded again by this process (a version's bundle
   * never changes) until another one should serve, or an activation with `force` clears its refusal.
   */
  private refusedId: string | undefined;
  /**
   * When the registry's refusal of `refusedId` was made, as `refuse` answered (this worker's or another's): a
   * registry showing none, or a later one, means an activation with `force` cleared it since. Undefined while the
   * refusal is not recorded yet (Postgres was away): `unrecorded` is then recorded at the next registry check.
   */
  private refusalAt: Date | undefined;
  /**
   * A refusal the registry does not know yet (Postgres was away), recorded at the next registry check that reaches
   * it, even if another version should serve by then: the trainer and the API go by the registry's refusals.
   */
  private unrecorded: { id: string; reason: string } | undefined;
  private refreshing: Promise<HashtagModel | undefined> | undefined;

  constructor(private readonly deps: ModelLoaderDeps) {}

  /** The model new batches run on; undefined until the registry has one to serve. */
  get model(): HashtagModel | undefined {
    return this.current?.model;
  }

  /** The version that should serve and failed its warm-up, if it still should; undefined otherwise. */
  get refused(): string | undefined {
    return this.refusedId;
  }

  /** Ids of the models in memory: the serving one and any replaced one still finishing a batch. */
  get loadedIds(): string[] {
    return [...this.retired, ...(this.current ? [this.current] : [])].map((l) => l.model.id);
  }

  /**
   * Loads the version that should serve if it is not the one loaded. Resolves with the serving model, or undefined
   * when the registry has none to serve yet (not an error: a fresh install has no model until one is trained).
   * Throws when the registry or the bundle cannot be read now, or the model fails its warm-up (once: it is not
   * loaded again); the model loaded before, if any, stays in service.
   */
  refresh(): Promise<HashtagModel | undefined> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Runs `fn` on the serving model, which is not released while `fn` runs even if another replaces it. */
  async use<T>(fn: (model: HashtagModel) => Promise<T>): Promise<T> {
    const loaded = this.current;
    if (!loaded) throw new NoActiveModelError();
    loaded.leases += 1;
    try {
      return await fn(loaded.model);
    } finally {
      loaded.leases -= 1;
      if (loaded.leases === 0 && this.retired.delete(loaded)) void this.dispose(loaded);
    }
  }

  /** Releases every model; call after the worker stopped taking jobs. */
  async close(): Promise<void> {
    await this.refreshing?.catch(() => {});
    const all = [...this.retired, ...(this.current ? [this.current] : [])];
    this.retired.clear();
    this.current = undefined;
    await Promise.all(all.map((l) => this.dispose(l)));
  }

  private async load(): Promise<HashtagModel | undefined> {
    const { repos, pinned } = this.deps;
    const version = pinned ? await repos.models.find(pinned) : await repos.models.active();
    // tried again once per activation with `force`, which clears the refusal; a worker that refused the version
    // again since (it checked the registry first) leaves a later refusal, which counts as cleared too. Judged on
    // the registry as read, before a refusal recorded just below changes it.
    const cleared =
      this.refusalAt !== undefined && version?.refusedAt?.getTime() !== this.refusalAt.getTime();
    if (this.unrecorded) await this.recordRefusal(this.unrecorded.id, this.unrecorded.reason);
    if (!version) return this.current?.model; // a pinned version deleted later: keep serving what is loaded
    if (this.current?.model.id === version.id) return this.current.model;
    if (this.refusedId === version.id && !cleared) return this.current?.model;
    this.refusedId = undefined;
    this.refusalAt = undefined;
    const dir = await fetchBundle(
      this.deps.store,
      version.bundlePrefix,
      join(this.deps.cacheDir, "models", version.id),
    );
    const model = await HashtagModel.load(dir, {
      executionProviders: this.deps.providers,
      intraOpThreads: this.deps.threads,
    });
    const warming = performance.now();
    try {
      await this.deps.warmUp?.(model);
    } catch (err) {
      await this.dispose({ model, leases: 0 });
      this.refusedId = version.id;
      const reason = err instanceof Error ? err.message : String(err);
      // in the registry too, where the API shows it and activating it again takes `force`; the refusal holds in
      // this process whether or not it is recorded now
      await this.recordRefusal(version.id, reason);
      throw new Error(`model ${version.id} failed its warm-up run, and is not served: ${reason}`, {
        cause: err,
      });
    }
    const previous = this.current;
    this.current = { model, leases: 0 };
    this.deps.log.info(
      { model: model.id, previous: previous?.model.id, warmUpMs: Math.round(performance.now() - warming) },
      "model loaded",
    );
    if (previous) {
      if (previous.leases === 0) await this.dispose(previous);
      else this.retired.add(previous); // released by the last batch running on it
    }
    return model;
  }

  /**
   * Records the refusal of `id` in the registry; when Postgres cannot be reached, keeps it to record at the next
   * registry check, so that the API, batch warnings and the trainer learn of it once Postgres is back. Any other
   * error is logged once: the refusal then holds in this process only.
   */
  private async recordRefusal(id: string, reason: string): Promise<void> {
    try {
      const at = await this.deps.repos.models.refuse(id, reason);
      if (id === this.refusedId) this.refusalAt = at ?? undefined;
      this.unrecorded = undefined;
    } catch (err) {
      const outage = isTransientError(err);
      this.unrecorded = outage ? { id, reason } : undefined;
      this.deps.log.warn(
        { model: id, err: (err as Error).message },
        outage
          ? "could not record the refusal; trying again at the next registry check"
          : "could not record the refusal",
      );
    }
  }

  private async dispose(loaded: Loaded): Promise<void> {
    await loaded.model
      .dispose()
      .catch((err: Error) =>
        this.deps.log.warn({ model: loaded.model.id, err: err.message }, "dispose failed"),
      );
  }
}

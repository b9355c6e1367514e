import { join } from "node:path";
import type { Repositories } from "@lxtag/db";
import type { Logger } from "@lxtag/runtime";
import { fetchBundle, type ObjectStore } from "@lxtag/storage";
import { HashtagModel } from "./hashtag-model.js";

export class NoActiveModelError extends Error {
  override name = "NoActiveModelError";
  constructor(pinned?: string) {
    super(
      pinned
        ? `model version ${pinned} is not in the registry`
        : "no active model version in the registry: train or import one first",
    );
  }
}

/**
 * Keeps the registry's active model (or a pinned version) loaded, and swaps in a newly activated one between
 * batches.
 */
export class ModelLoader {
  private current: HashtagModel | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      repos: Repositories;
      store: ObjectStore;
      log: Logger;
      cacheDir: string;
      pinned?: string;
      providers: string[];
      threads: number;
    },
  ) {}

  get model(): HashtagModel {
    if (!this.current) throw new NoActiveModelError();
    return this.current;
  }

  async refresh(): Promise<void> {
    const { pinned } = this.deps;
    const active = pinned ? await this.deps.repos.models.find(pinned) : await this.deps.repos.models.active();
    if (!active) throw new NoActiveModelError(pinned);
    if (this.current?.id === active.id) return;
    const dir = await fetchBundle(
      this.deps.store,
      active.bundlePrefix,
      join(this.deps.cacheDir, "models", active.id),
    );
    const next = await HashtagModel.load(dir, {
      executionProviders: this.deps.providers,
      intraOpThreads: this.deps.threads,
    });
    const previous = this.current;
    this.current = next;
    this.deps.log.info({ model: next.id, previous: previous?.id }, "model loaded");
    // let in-flight runs on the previous session finish before releasing it
    if (previous) setTimeout(() => void previous.dispose(), 30_000).unref();
  }

  watch(intervalMs: number): void {
    this.timer = setInterval(
      () => this.refresh().catch((err) => this.deps.log.error({ err: err.message }, "model refresh failed")),
      intervalMs,
    );
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.current?.dispose();
  }
}

import pg from "pg";
import { applicationName } from "./client.js";

/**
 * A Postgres session advisory lock held on a connection of its own for as long as the holder needs it (minutes
 * or hours, unlike a transaction's). Postgres releases it when that connection ends, so a holder that crashes or
 * is killed releases it with its process: no expiry to tune, no stale lock to clear by hand.
 */
export class SessionLock {
  private released = false;
  /** Aborted when the lock is lost; its reason's `cause` is why (`lost`). */
  private readonly losing = new AbortController();

  private constructor(
    private readonly client: pg.Client,
    readonly key: number,
    private readonly name: string,
  ) {
    // an `error` event nobody listens to would kill the process; a dropped connection means the lock is gone
    client.on("error", (err) => this.lose(err));
    client.on("end", () => {
      if (!this.released) this.lose(new Error("the lock's database connection closed"));
    });
  }

  private lose(err: Error): void {
    if (this.released || this.losing.signal.aborted) return;
    this.losing.abort(new Error(`lost the ${this.name} lock: ${err.message}`, { cause: err }));
  }

  /**
   * Takes the lock if no session holds it; null when one does. `name` says what it guards: its connection is
   * `lxtag <name> lock pid <pid> on <host>` in `pg_stat_activity`, so a holder can be found.
   */
  static async tryAcquire(databaseUrl: string, key: number, name: string): Promise<SessionLock | null> {
    // keepAlive: the connection sits idle while the holder works; without it a NAT or proxy may drop it silently
    const client = new pg.Client({
      connectionString: databaseUrl,
      keepAlive: true,
      application_name: applicationName(`${name} lock`),
    });
    client.on("error", () => {}); // until the lock's own listener takes over
    await client.connect();
    try {
      const r = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [key]);
      if (r.rows[0]?.ok) return new SessionLock(client, key, name);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    await client.end();
    return null;
  }

  /** Why the lock was lost (its connection failed, so Postgres released it), or undefined while it is held. */
  get lost(): Error | undefined {
    return this.losing.signal.aborted ? ((this.losing.signal.reason as Error).cause as Error) : undefined;
  }

  /** Aborted the moment the lock is lost (its reason names the lock and why): stops work that must not go on. */
  get signal(): AbortSignal {
    return this.losing.signal;
  }

  /** Releases the lock and closes its connection; safe to call twice. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      if (!this.losing.signal.aborted) await this.client.query("SELECT pg_advisory_unlock($1)", [this.key]);
    } finally {
      await this.client.end().catch(() => {});
    }
  }
}

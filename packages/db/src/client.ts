import { hostname } from "node:os";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "./generated/client.js";

/** One pool per process: Prisma runs over it (driver adapter) and bulk statements use it directly. */
export interface Db {
  prisma: PrismaClient;
  pool: pg.Pool;
  close(): Promise<void>;
}

export interface DbOptions {
  /** Connections in the pool. @defaultValue 10 */
  maxConnections?: number;
  /**
   * Told about an idle connection that died (Postgres restarted, a proxy cut it). The pool has already dropped
   * it and the next query opens a new one, so this is for logging only. @defaultValue ignored
   */
  onIdleError?: (err: Error) => void;
  /**
   * The lxtag service this process is (`api`, `predict-worker`, ...): its connections carry it, the host and the
   * process id as their `application_name`, so `pg_stat_activity` tells whose each connection is.
   * @defaultValue none
   */
  service?: string;
}

/**
 * The `application_name` of a service's connections, cut to the 63 bytes Postgres keeps (a long host name loses its
 * end), so that it equals what `pg_stat_activity` shows.
 */
export function applicationName(service: string, pid = process.pid): string {
  return Buffer.from(`lxtag ${service} pid ${pid} on ${hostname()}`).subarray(0, 63).toString();
}

export function createDb(databaseUrl: string, options: DbOptions | number = {}): Db {
  const {
    maxConnections = 10,
    onIdleError,
    service,
  } = typeof options === "number" ? { maxConnections: options } : options;
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: maxConnections,
    ...(service && { application_name: applicationName(service) }),
  });
  // pg emits `error` on the pool when an idle client's connection fails; an EventEmitter `error` nobody listens
  // to is thrown and kills the process, so a Postgres restart would take every worker down with it. Queries in
  // flight still reject on their own (and their jobs are retried).
  pool.on("error", (err) => onIdleError?.(err));
  // The pool listens on a client only while it is idle: a connection lost between two statements of a checked-out
  // client (a transaction's BEGIN and COMMIT) would emit `error` with no listener and kill the process. Its next
  // statement fails with the error anyway (and the job is retried), so this listener only keeps the process alive.
  pool.on("connect", (client) => client.on("error", () => {}));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    pool,
    async close() {
      await prisma.$disconnect();
      await pool.end().catch(() => {});
    },
  };
}

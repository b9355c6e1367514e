// Redis, a Postgres cluster and an S3 server of a test's own, on free ports and in a temporary folder, which the
// test may kill, stop and restart without disturbing the shared services every other test uses (the fault suite).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./apps.js";

/** A port nobody listens on now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Resolves once something accepts connections on the port; throws after `timeoutMs`. */
async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: "127.0.0.1" });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A child process that the test owns; `exit()` signals it and waits until it is gone. */
class Owned {
  private child: ChildProcess | undefined;
  readonly log: string[] = [];

  constructor(
    private readonly command: string,
    private readonly args: () => string[],
  ) {}

  start(): void {
    const child = spawn(this.command, this.args(), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const keep = (d: Buffer) => {
      this.log.push(d.toString().trimEnd());
      if (this.log.length > 200) this.log.shift();
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    this.child = child;
  }

  async exit(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await gone;
  }
}

/** redis-server with an append-only file, so a SIGKILL loses at most the last second of writes. */
export class OwnRedis {
  private readonly proc: Owned;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {
    this.proc = new Owned("redis-server", () => [
      ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""],
      ...["--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction"],
    ]);
  }

  static async start(dir: string): Promise<OwnRedis> {
    await mkdir(dir, { recursive: true });
    const redis = new OwnRedis(await freePort(), dir);
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it again from its append-only file. */
  async restart(): Promise<void> {
    this.proc.start();
    await waitForPort(this.port);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    return this.proc.exit(signal);
  }

  /** Removes its data while it is down: the next start is an empty Redis (a lost volume, a failover to an empty replica). */
  wipe(): Promise<void> {
    return rm(join(this.dir, "appendonlydir"), { recursive: true, force: true });
  }
}

/** Debian's Postgres binaries (the newest installed), else whatever is on PATH. */
function postgresBin(): string {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  return newest ? join(base, newest, "bin") : "";
}

/**
 * A Postgres cluster of its own (initdb in a temporary folder, trust authentication for the user `lxtag`), driven
 * by pg_ctl. Postgres refuses to run as root: as root, its commands run as the `postgres` user that Debian's
 * package creates.
 */
export class OwnPostgres {
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(dir: string): Promise<OwnPostgres> {
    await mkdir(dir, { recursive: true });
    const pg = new OwnPostgres(await freePort(), dir);
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
      const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
      await chown(dir, uid, gid);
    }
    pg.run("initdb", ["-D", pg.data, "-U", "lxtag", "--auth=trust", "-E", "UTF8", "--no-sync"]);
    await pg.startServer();
    return pg;
  }

  private get data(): string {
    return join(this.dir, "data");
  }

  /** The server's URL (its `postgres` database; scratchDatabase makes one of the test's own there). */
  get url(): string {
    return `postgresql://lxtag@127.0.0.1:${this.port}/postgres`;
  }

  private run(command: string, args: string[]): void {
    const bin = postgresBin();
    const file = bin ? join(bin, command) : command;
    const [cmd, argv] =
      process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
    execFileSync(cmd, argv, { stdio: "pipe" });
  }

  private pgCtl(action: string, extra: string[] = []): void {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
    this.run("pg_ctl", [
      "-D",
      this.data,
      "-l",
      join(this.dir, "log"),
      "-w",
      "-t",
      "60",
      "-o",
      options,
      action,
      ...extra,
    ]);
  }

  startServer(): Promise<void> {
    this.pgCtl("start");
    return waitForPort(this.port);
  }

  /** Stops it, as an operator's restart or failover does: sessions are terminated (57P01), new ones refused. */
  stopServer(): Promise<void> {
    this.pgCtl("stop", ["-m", "fast"]);
    return Promise.resolve();
  }

  /** A restart at once (stop, fast mode, then start). */
  async restartServer(): Promise<void> {
    this.pgCtl("restart", ["-m", "fast"]);
    await waitForPort(this.port);
  }

  async close(): Promise<void> {
    try {
      this.pgCtl("stop", ["-m", "immediate"]);
    } catch {
      // not running
    }
  }
}

/** s3rver on a folder of its own, through the repository's scripts/s3-server.js. */
export class OwnS3 {
  private readonly proc: Owned;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {
    this.proc = new Owned(process.execPath, () => ["scripts/s3-server.js", String(port), dir]);
  }

  static async start(dir: string): Promise<OwnS3> {
    await mkdir(dir, { recursive: true });
    const s3 = new OwnS3(await freePort(), dir);
    await s3.restart();
    return s3;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    this.proc.start();
    await waitForPort(this.port);
  }

  stop(): Promise<void> {
    return this.proc.exit("SIGTERM");
  }
}

/** The three, under one temporary folder that `close()` removes. */
export class OwnServices {
  private constructor(
    readonly dir: string,
    readonly redis: OwnRedis,
    readonly postgres: OwnPostgres,
    readonly s3: OwnS3,
  ) {}

  static async start(): Promise<OwnServices> {
    const dir = await mkdtemp(join(tmpdir(), "lxtag-own-"));
    await chmod(dir, 0o755); // the postgres user (see OwnPostgres) must reach its folder inside
    const [redis, postgres, s3] = await Promise.all([
      OwnRedis.start(join(dir, "redis")),
      OwnPostgres.start(join(dir, "postgres")),
      OwnS3.start(join(dir, "s3")),
    ]);
    return new OwnServices(dir, redis, postgres, s3);
  }

  /** Settings that point lxtag's processes at these services. */
  env(databaseUrl: string): Record<string, string> {
    return {
      LXTAG_REDIS_URL: this.redis.url,
      DATABASE_URL: databaseUrl,
      LXTAG_S3_ENDPOINT: this.s3.url,
      LXTAG_S3_BUCKET: "lxtag-faults",
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.redis.kill("SIGTERM"), this.postgres.close(), this.s3.stop()]);
    await rm(this.dir, { recursive: true, force: true });
  }
}

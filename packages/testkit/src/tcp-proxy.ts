import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy to a real service that a test can cut and restore: `cut()` stops listening and drops every open
 * connection (what a restarting or partitioned server looks like to a client: refused and reset connections),
 * `restore()` listens again on the same port.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  /** Listens on a free port of 127.0.0.1 and forwards to `target` (`http://host:port` or `host:port`). */
  static async start(target: string): Promise<TcpProxy> {
    const u = new URL(target.includes("://") ? target : `tcp://${target}`);
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const proxy = new TcpProxy({ host: u.hostname, port: Number(u.port) }, port);
    await proxy.restore();
    return proxy;
  }

  /** `http://127.0.0.1:<port>`, for clients that take an endpoint URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get isUp(): boolean {
    return this.server !== undefined;
  }

  async restore(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      this.accepted += 1;
      const upstream = createConnection(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Cuts now and restores after `ms`; resolves when the proxy is back. */
  async outage(ms: number): Promise<void> {
    await this.cut();
    await new Promise((resolve) => setTimeout(resolve, ms));
    await this.restore();
  }

  close(): Promise<void> {
    return this.cut();
  }
}

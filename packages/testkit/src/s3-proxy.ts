import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An HTTP proxy in front of the S3 server that records `METHOD /path` of every request, and answers `503 SlowDown`
 * to the next `times` requests whose path contains a key given to `fail()` (one object unreadable for a while,
 * the rest fine). Everything else is forwarded as it came.
 */
export class S3Proxy {
  /** `METHOD /path` of each request so far, without query or trailing slash; a test may empty it. */
  readonly seen: string[] = [];
  /** Requests answered with a fault, per key. */
  readonly failed = new Map<string, number>();
  private readonly faults = new Map<string, number>();
  private readonly server: Server;

  private constructor(private readonly target: URL) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  /** Listens on a free port of 127.0.0.1 and forwards to `s3Endpoint`. */
  static async start(s3Endpoint: string): Promise<S3Proxy> {
    const proxy = new S3Proxy(new URL(s3Endpoint));
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  /** `http://127.0.0.1:<port>`, the endpoint to give an ObjectStore. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next `times` requests for `key` get a 503. */
  fail(key: string, times: number): void {
    this.faults.set(key, times);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.seen.push(`${req.method} ${req.url?.split("?")[0]?.replace(/\/$/, "")}`);
    const key = [...this.faults.keys()].find((k) => req.url?.includes(k));
    if (key) {
      const left = this.faults.get(key)! - 1;
      if (left > 0) this.faults.set(key, left);
      else this.faults.delete(key);
      this.failed.set(key, (this.failed.get(key) ?? 0) + 1);
      req.resume();
      res
        .writeHead(503, { "content-type": "application/xml" })
        .end("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>");
      return;
    }
    const upstream = request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  }
}

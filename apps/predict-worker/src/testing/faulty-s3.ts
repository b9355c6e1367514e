import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An HTTP proxy in front of the S3 server that answers `503 SlowDown` to the next `times` requests whose path
 * contains a given object key, and forwards everything else: one object unreadable for a while, the rest fine.
 */
export class FaultyS3 {
  private readonly faults = new Map<string, number>();
  /** Requests answered with a fault, per key. */
  readonly failed = new Map<string, number>();

  private constructor(private readonly server: Server) {}

  static async start(s3Endpoint: string): Promise<FaultyS3> {
    const target = new URL(s3Endpoint);
    let proxy: FaultyS3 | undefined;
    const server = createServer((req, res) => {
      const key = [...proxy!.faults.keys()].find((k) => req.url?.includes(k));
      if (key) {
        const left = proxy!.faults.get(key)! - 1;
        if (left > 0) proxy!.faults.set(key, left);
        else proxy!.faults.delete(key);
        proxy!.failed.set(key, (proxy!.failed.get(key) ?? 0) + 1);
        req.resume();
        res
          .writeHead(503, { "content-type": "application/xml" })
          .end("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>");
        return;
      }
      const upstream = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new FaultyS3(server);
    return proxy;
  }

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
}

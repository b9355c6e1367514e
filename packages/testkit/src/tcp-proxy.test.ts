import { connect, createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TcpProxy } from "./tcp-proxy.js";

/** Sends `text` through a new connection to `port` and resolves with the echo, or rejects with the socket error. */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(text));
    s.once("data", (d) => {
      resolve(d.toString());
      s.end();
    });
    s.once("error", reject);
  });
}

describe("TcpProxy", () => {
  let echo: Server;
  let proxy: TcpProxy;
  beforeAll(async () => {
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    proxy = await TcpProxy.start(`127.0.0.1:${(echo.address() as { port: number }).port}`);
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((resolve) => echo.close(resolve));
  });

  it("forwards, refuses and drops connections while cut, and forwards again on the same port once restored", async () => {
    expect(await roundTrip(proxy.port, "hello")).toBe("hello");
    const open = connect(proxy.port, "127.0.0.1");
    await new Promise((resolve) => open.once("connect", resolve));
    const dropped = new Promise((resolve) => open.once("close", resolve));
    await proxy.cut();
    await dropped; // the open connection was reset
    await expect(roundTrip(proxy.port, "nobody")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await proxy.restore();
    expect(await roundTrip(proxy.port, "again")).toBe("again");
    expect(proxy.accepted).toBe(3);
  });
});

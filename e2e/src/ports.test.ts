// Port reservations across processes: what keeps two local stacks started at once off each other's ports.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { reservePorts } from "./ports.js";

const PORTS = fileURLToPath(new URL("../dist/ports.js", import.meta.url));
const file = (port: number) => join(tmpdir(), "lxtag-ports", String(port));

/** A process that reserves `times` spans of `count` ports in `range`, prints them as JSON, then stays or exits. */
function reserver(times: number, count: number, range?: { first: number; last: number }, stay = false) {
  const code = `import { reservePorts } from ${JSON.stringify(PORTS)};
    const got = Array.from({ length: ${times} }, () => reservePorts(${count}${range ? `, ${JSON.stringify(range)}` : ""}));
    console.log(JSON.stringify(got));
    ${stay ? "setInterval(() => {}, 1000);" : ""}`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  // Listened for from the start: a child that prints and exits at once may have exited before a later listener.
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const printed = new Promise<number[]>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d;
      if (out.includes("\n")) resolve(JSON.parse(out));
    });
    child.once("exit", (code) => reject(new Error(`reserver exited with ${code} before printing`)));
  });
  return { child, printed, exited };
}

describe("reservePorts", () => {
  it("gives processes reserving at once disjoint spans, and frees them when each exits", async () => {
    const runs = [reserver(40, 3), reserver(40, 3)];
    const spans = await Promise.all(runs.map((r) => r.printed));
    await Promise.all(runs.map((r) => r.exited));
    const ports = spans.flat().flatMap((base) => [base, base + 1, base + 2]);
    expect(ports).toHaveLength(240);
    expect(new Set(ports).size).toBe(240);
    expect(ports.filter((p) => existsSync(file(p)))).toEqual([]);
  });

  it("holds a span while its process lives, and takes over one whose process was killed", async () => {
    const range = { first: 30_010, last: 30_013 }; // room for one span of 3, outside the range stacks use
    const holder = reserver(1, 3, range, true);
    expect(await holder.printed).toEqual([30_010]);
    expect(readFileSync(file(30_011), "utf8")).toBe(String(holder.child.pid));
    expect(() => reservePorts(3, range)).toThrow(/no 3 consecutive ports free from 30010 to 30012/);
    holder.child.kill("SIGKILL"); // no exit handler runs: its files stay, naming a dead process
    await holder.exited;
    expect(existsSync(file(30_010))).toBe(true);
    expect(reservePorts(3, range)).toBe(30_010);
    expect(readFileSync(file(30_012), "utf8")).toBe(String(process.pid));
  });
});

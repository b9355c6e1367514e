import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import { AddressPolicy, isNetwork, RefusedAddressError } from "./address-policy.js";

const REFUSED = [
  "0.0.0.0",
  "10.1.2.3",
  "100.64.0.1", // carrier-grade NAT
  "127.0.0.1",
  "127.255.255.254",
  "169.254.169.254", // cloud metadata
  "172.16.0.1",
  "172.31.255.255",
  "192.168.1.1",
  "192.0.2.10",
  "198.18.0.1",
  "224.0.0.1",
  "239.255.255.250",
  "255.255.255.255",
  "::",
  "::1",
  "::127.0.0.1", // IPv4-compatible
  "::ffff:127.0.0.1", // IPv4-mapped, dotted or not
  "::ffff:7f00:1",
  "::ffff:a9fe:a9fe", // 169.254.169.254
  "::ffff:0:10.0.0.1", // IPv4-translated
  "64:ff9b::10.0.0.1", // NAT64 of a private address
  "2002:a00:1::", // 6to4 of 10.0.0.1
  "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
  "2001:db8::1",
  "fc00::1",
  "fd00:ec2::254", // AWS metadata over IPv6
  "fe80::1",
  "fe80::1%eth0",
  "ff02::1",
  "not-an-address",
];
const PUBLIC = [
  "8.8.8.8",
  "1.1.1.1",
  "172.32.0.1", // just past 172.16/12
  "100.128.0.1", // just past 100.64/10
  "2606:4700:4700::1111",
  "::ffff:8.8.8.8",
  "64:ff9b::8.8.8.8",
  "2002:808:808::", // 6to4 of 8.8.8.8
];

describe("AddressPolicy", () => {
  const policy = new AddressPolicy();

  it("refuses loopback, private, link-local, CGNAT, multicast, reserved and their IPv6 forms", () => {
    for (const address of REFUSED) expect(policy.permits(address), address).toBe(false);
  });

  it("permits public addresses, also when IPv6 carries them", () => {
    for (const address of PUBLIC) expect(policy.permits(address), address).toBe(true);
  });

  it("permits exactly the networks it is told to allow", () => {
    const local = new AddressPolicy({ allowNetworks: ["127.0.0.1/32", "fd00::/8"] });
    expect(local.permits("127.0.0.1")).toBe(true);
    expect(local.permits("::ffff:127.0.0.1")).toBe(true);
    expect(local.permits("fd12::1")).toBe(true);
    expect(local.permits("127.0.0.2")).toBe(false);
    expect(local.permits("::1")).toBe(false);
    expect(local.permits("169.254.169.254")).toBe(false);
  });

  it("takes CIDRs or single addresses, and names what is not one", () => {
    for (const n of ["10.0.0.0/8", "127.0.0.1", "::1/128", "fd00::/8", "0.0.0.0/0"])
      expect(isNetwork(n), n).toBe(true);
    for (const n of ["10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/8/8", "localhost", "10.0.0.0/x", ""])
      expect(isNetwork(n), n).toBe(false);
    expect(() => new AddressPolicy({ allowNetworks: ["10/8"] })).toThrow(
      'not an IP network: "10/8" (e.g. 10.0.0.0/8, ::1/128)',
    );
  });

  it("resolves host names, refusing one with any refused address", async () => {
    const lookup = (host: string, all: boolean, p = policy) =>
      new Promise<unknown>((resolve) =>
        p.lookup(host, { all }, (err, address, family) => resolve(err ?? { address, family })),
      );
    const refused = await lookup("localhost", false);
    expect(refused).toBeInstanceOf(RefusedAddressError);
    expect((refused as RefusedAddressError).message).toBe("localhost is not a public address");
    expect(await lookup("localhost", true)).toBeInstanceOf(RefusedAddressError);
    const local = new AddressPolicy({ allowNetworks: ["127.0.0.0/8", "::1"] });
    expect(await lookup("localhost", false, local)).toEqual({ address: "127.0.0.1", family: 4 });
    const all = (await lookup("localhost", true, local)) as { address: LookupAddress[] };
    expect(all.address).toContainEqual({ address: "127.0.0.1", family: 4 });
  });
});

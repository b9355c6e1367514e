import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIPv4, isIPv6, type LookupFunction } from "node:net";

/** Networks an image URL may not reach: whatever is not the public internet (OWASP's SSRF list and RFC 6890). */
const REFUSED_V4: [string, number][] = [
  ["0.0.0.0", 8], // "this network"; 0.0.0.0 reaches the local host
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, the cloud metadata address 169.254.169.254 among them
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, and the broadcast address
];
const REFUSED_V6: [string, number][] = [
  ["::", 96], // the unspecified address, loopback (::1) and IPv4-compatible addresses
  ["100::", 64], // discard
  ["2001::", 32], // Teredo: an IPv4 address hides in it, obfuscated
  ["2001:db8::", 32], // documentation
  ["fc00::", 7], // unique local (AWS's metadata fd00:ec2::254 among them)
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
];

/** Where an IPv6 address embeds an IPv4 one that is what gets reached: the IPv4 address is judged instead. */
const EMBEDDING: { prefix: number[]; at: number }[] = [
  { prefix: [0, 0, 0, 0, 0, 0xffff], at: 6 }, // IPv4-mapped ::ffff:a.b.c.d
  { prefix: [0, 0, 0, 0, 0xffff, 0], at: 6 }, // IPv4-translated ::ffff:0:a.b.c.d
  { prefix: [0x64, 0xff9b, 0, 0, 0, 0], at: 6 }, // NAT64 64:ff9b::a.b.c.d
  { prefix: [0x2002], at: 1 }, // 6to4 2002:aabb:ccdd::
];

/** The eight 16-bit groups of an IPv6 address (a trailing dotted quad included). */
function groups(address: string): number[] {
  let text = address;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const parse = (s: string | undefined) => (s ? s.split(":").map((g) => Number.parseInt(g, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  return tail === undefined ? front : [...front, ...Array(8 - front.length - back.length).fill(0), ...back];
}

/** The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), if any. */
function embeddedV4(address: string): string | undefined {
  const g = groups(address);
  const e = EMBEDDING.find(({ prefix }) => prefix.every((v, i) => g[i] === v));
  if (!e) return undefined;
  const hi = g[e.at]!;
  const lo = g[e.at + 1]!;
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
}

/** `10.0.0.0/8` or `::1/128` (a bare address is the one address) as BlockList arguments, or undefined. */
function parseNetwork(cidr: string): [string, number, "ipv4" | "ipv6"] | undefined {
  const [address = "", bits, ...rest] = cidr.trim().split("/");
  const type = isIPv4(address) ? "ipv4" : isIPv6(address) ? "ipv6" : undefined;
  const max = type === "ipv4" ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
  if (!type || rest.length || !(prefix >= 0 && prefix <= max)) return undefined;
  return [address, prefix, type];
}

/** Whether `cidr` names an IP network (`10.0.0.0/8`, `::1/128`, or one address): for configuration. */
export const isNetwork = (cidr: string) => parseNetwork(cidr) !== undefined;

/**
 * A host name resolved only to addresses the policy refuses (or a refused address given literally). Every such
 * host reads the same, open port or closed, so that image URLs cannot map the network behind the worker.
 */
export class RefusedAddressError extends Error {
  override name = "RefusedAddressError";
  readonly code = "ERR_LXTAG_ADDRESS_REFUSED";
  constructor(readonly host: string) {
    super(`${host} is not a public address`);
  }
}

export interface AddressPolicyOptions {
  /**
   * Networks fetched although they are loopback, private, link-local or otherwise not public, as CIDRs
   * (`127.0.0.1/32`, `fd00::/8`): for tests against a local server, or a trusted image host inside the network.
   * @defaultValue [] (public addresses only)
   */
  allowNetworks?: readonly string[];
}

/**
 * Which addresses image URLs may reach. Its `lookup` is what the HTTP client resolves host names with, so the
 * address checked is the address connected to: a DNS answer that changes between a check and the connection
 * (DNS rebinding) has nothing to exploit.
 */
export class AddressPolicy {
  private readonly refused = new BlockList();
  private readonly allowed = new BlockList();

  constructor({ allowNetworks = [] }: AddressPolicyOptions = {}) {
    for (const [address, prefix] of REFUSED_V4) this.refused.addSubnet(address, prefix, "ipv4");
    for (const [address, prefix] of REFUSED_V6) this.refused.addSubnet(address, prefix, "ipv6");
    for (const cidr of allowNetworks) {
      const network = parseNetwork(cidr);
      if (!network)
        throw new RangeError(`not an IP network: ${JSON.stringify(cidr)} (e.g. 10.0.0.0/8, ::1/128)`);
      this.allowed.addSubnet(...network);
    }
  }

  /** Whether an IP address may be connected to: allowed, or neither refused nor standing for a refused one. */
  permits(address: string): boolean {
    const ip = address.split("%")[0]!; // a zone id says which interface, not which address
    if (isIPv4(ip)) return this.allowed.check(ip, "ipv4") || !this.refused.check(ip, "ipv4");
    if (!isIPv6(ip)) return false;
    if (this.allowed.check(ip, "ipv6")) return true;
    if (this.refused.check(ip, "ipv6")) return false;
    const v4 = embeddedV4(ip);
    return v4 === undefined || this.permits(v4);
  }

  /**
   * `dns.lookup` for `net.connect`: a host is refused when any of its addresses is (a mix would let the client
   * pick the private one), with `RefusedAddressError`.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, "");
      if (!addresses.length || addresses.some((a) => !this.permits(a.address)))
        return callback(new RefusedAddressError(hostname), "");
      if (options.all) return callback(null, addresses);
      const [first] = addresses as [LookupAddress];
      callback(null, first.address, first.family);
    });
  };
}

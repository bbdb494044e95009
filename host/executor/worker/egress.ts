// Where a function's outbound fetch may connect. Addresses are checked twice:
// names are resolved by our own lookup, which drops forbidden addresses before
// any connection is tried, and the address a socket actually connected to is
// checked again before a byte is sent (IP literals, redirects and DNS answers
// that change between lookups all end up there).
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { Agent, buildConnector } from "undici";

export interface EgressSettings {
  /** Let functions reach loopback, private, link-local and metadata addresses (a test host on loopback, a trusted LAN). */
  allowPrivate: boolean;
  /** Addresses or CIDR ranges reachable even when private ("127.0.0.2", "10.1.0.0/16"). */
  allow: string[];
  /** Connection set-up limit, ms. */
  connectTimeoutMs: number;
  /** Waiting for response headers, and between body chunks, ms. */
  responseTimeoutMs: number;
}

/** Thrown when a fetch would connect to an address functions may not reach. */
export class EgressRefusedError extends Error {
  constructor(readonly address: string, readonly reason: string, host?: string) {
    const target = host && host !== address ? `${host} (${address})` : address;
    super(
      `fetch refused: ${target} is ${reason}; functions may not reach loopback, private, link-local or metadata addresses` +
        ` (an operator can allow some with the host's egress settings)`,
    );
    this.name = "EgressRefusedError";
  }
}

/** Address ranges a function may not reach, with the reason given. */
const FORBIDDEN_RANGES: [network: string, prefix: number, family: "ipv4" | "ipv6", reason: string][] = [
  ["0.0.0.0", 8, "ipv4", "a 'this network' address"],
  ["10.0.0.0", 8, "ipv4", "a private address"],
  ["100.64.0.0", 10, "ipv4", "a carrier-grade NAT address"],
  ["127.0.0.0", 8, "ipv4", "a loopback address"],
  ["169.254.0.0", 16, "ipv4", "a link-local address (cloud metadata lives there)"],
  ["172.16.0.0", 12, "ipv4", "a private address"],
  ["192.0.0.0", 24, "ipv4", "an IETF protocol address"],
  ["192.168.0.0", 16, "ipv4", "a private address"],
  ["198.18.0.0", 15, "ipv4", "a benchmarking address"],
  ["224.0.0.0", 4, "ipv4", "a multicast address"],
  ["240.0.0.0", 4, "ipv4", "a reserved address"],
  ["::", 128, "ipv6", "the unspecified address"],
  ["::1", 128, "ipv6", "a loopback address"],
  ["64:ff9b::", 96, "ipv6", "a NAT64 address"],
  ["64:ff9b:1::", 48, "ipv6", "a NAT64 address"],
  ["2002::", 16, "ipv6", "a 6to4 address"],
  ["fc00::", 7, "ipv6", "a unique local (private) address"],
  ["fe80::", 10, "ipv6", "a link-local address"],
  ["ff00::", 8, "ipv6", "a multicast address"],
];

export class EgressPolicy {
  private readonly forbidden: { list: BlockList; reason: string }[] = [];
  private readonly allowed = new BlockList();

  constructor(private readonly settings: EgressSettings) {
    for (const [network, prefix, family, reason] of FORBIDDEN_RANGES) {
      const list = new BlockList();
      list.addSubnet(network, prefix, family);
      this.forbidden.push({ list, reason });
    }
    for (const entry of settings.allow) {
      const [address, prefix] = entry.split("/");
      const family = isIP(address ?? "");
      if (family === 0) throw new Error(`egress allow entry "${entry}" is not an IP address or CIDR range`);
      const type = family === 4 ? "ipv4" : "ipv6";
      if (prefix === undefined) this.allowed.addAddress(address!, type);
      else this.allowed.addSubnet(address!, Number(prefix), type);
    }
  }

  /** Why `address` may not be reached, or null when it may. */
  refusal(address: string): string | null {
    if (this.settings.allowPrivate) return null;
    const bare = address.startsWith("[") ? address.slice(1, -1) : address;
    const family = isIP(bare);
    if (family === 0) return "not an IP address";
    // ::ffff:a.b.c.d is an IPv4 address in disguise.
    const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1] : undefined;
    const ip = mapped ?? bare;
    const type = isIP(ip) === 4 ? "ipv4" : "ipv6";
    if (this.allowed.check(ip, type)) return null;
    for (const { list, reason } of this.forbidden) if (list.check(ip, type)) return reason;
    return null;
  }

  /** An undici Agent whose every connection goes through this policy. */
  createAgent(): Agent {
    const lookup = this.checkedLookup();
    const connect = buildConnector({ timeout: this.settings.connectTimeoutMs, lookup });
    return new Agent({
      connect: (options, callback) => {
        const hostname = options.hostname.startsWith("[") ? options.hostname.slice(1, -1) : options.hostname;
        const literal = isIP(hostname) !== 0 ? this.refusal(hostname) : null;
        if (literal) {
          callback(new EgressRefusedError(hostname, literal), null);
          return;
        }
        connect(options, (error, socket) => {
          if (error) return callback(error, null);
          const remote = socket!.remoteAddress ?? "";
          const reason = this.refusal(remote);
          if (reason) {
            socket!.destroy();
            return callback(new EgressRefusedError(remote, reason, hostname), null);
          }
          callback(null, socket!);
        });
      },
      headersTimeout: this.settings.responseTimeoutMs,
      bodyTimeout: this.settings.responseTimeoutMs,
      keepAliveTimeout: 4_000,
    });
  }

  /** dns.lookup minus the addresses this policy refuses. */
  private checkedLookup(): LookupFunction {
    return (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
        if (error) return callback(error, "", 0);
        const usable = addresses.filter((entry) => this.refusal(entry.address) === null);
        if (usable.length === 0) {
          const first = addresses[0]!;
          return callback(new EgressRefusedError(first.address, this.refusal(first.address) ?? "not usable", hostname), "", 0);
        }
        if (options.all) (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      });
    };
  }
}

/**
 * Checks `client.ts`'s multicast flags, `--ttl N` and `--multicast-if ADDR`,
 * against the host it sends to: they go with a multicast group, and are a
 * usage error with any other host.
 *
 * @module
 */

import { intFlag, UsageError } from "./cli.ts";
import { resolveEndpoint } from "../net/open.ts";
import { isMulticast } from "../net/multicast.ts";

/** The multicast flags as `parseFlags` gives them: text, or `undefined`. */
export interface MulticastFlags {
  /** `--ttl N`. */
  readonly ttl?: string | undefined;
  /** `--multicast-if ADDR`. */
  readonly "multicast-if"?: string | undefined;
}

/** The multicast flags, checked, as sender options. */
export interface MulticastSendOptions {
  /** Whether the host is a multicast group. */
  multicast: boolean;
  /** `--ttl`, 0 to 255 (default 1), for a group only. */
  multicastTtl?: number;
  /** `--multicast-if`, when given. */
  multicastInterface?: string;
}

/**
 * Resolves `hostname` and checks the multicast flags against it.
 *
 * @param hostname The host frames go to, a name or an address.
 * @param flags `--ttl` and `--multicast-if`.
 * @returns For a group, `multicast: true` with the TTL and interface; for
 * another host, `multicast: false`.
 * @throws {UsageError} For either flag with a host that is not a group, or
 * a bad TTL.
 *
 * @example A group
 * ```ts
 * import { multicastFlags } from "./multicast_flag.ts";
 * console.log(await multicastFlags("239.1.2.3", { ttl: "4" })); // { multicast: true, multicastTtl: 4 }
 * console.log(await multicastFlags("127.0.0.1", {})); // { multicast: false }
 * ```
 */
export async function multicastFlags(
  hostname: string,
  flags: MulticastFlags,
): Promise<MulticastSendOptions> {
  const to = await resolveEndpoint({ hostname, port: 0 });
  if (!isMulticast(to.hostname)) {
    if ((flags.ttl ?? flags["multicast-if"]) !== undefined) {
      throw new UsageError(
        "--ttl and --multicast-if go with a multicast --host (224.0.0.0/4 or ff00::/8)",
      );
    }
    return { multicast: false };
  }
  return {
    multicast: true,
    multicastTtl: intFlag("ttl", flags.ttl, 1, { max: 255 }),
    ...(flags["multicast-if"] !== undefined &&
      { multicastInterface: flags["multicast-if"] }),
  };
}

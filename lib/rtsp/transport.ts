/**
 * The RTSP `Transport` header ([RFC 2326 §12.39](https://www.rfc-editor.org/rfc/rfc2326#section-12.39)):
 * what a client asks for in SETUP, and what the server answers.
 *
 * ```text
 * Transport: RTP/AVP;unicast;client_port=5000-5001            RTP over UDP
 * Transport: RTP/AVP/TCP;unicast;interleaved=0-1              RTP in the RTSP connection
 * Transport: RTP/AVP/TCP;interleaved=0-1,RTP/AVP;client_port=5000-5001
 *                                                             alternatives, best first
 * ```
 *
 * The server's answer repeats the choice, with the ports it sends from
 * (`server_port=6970-6971`) for UDP.
 *
 * @module
 */

/** One transport a client offers. */
export interface TransportSpec {
  /** The profile, such as `RTP/AVP`. */
  readonly profile: string;
  /** The lower transport: `UDP` or `TCP`, upper case; UDP when not named. */
  readonly lower: "UDP" | "TCP" | string;
  /** Whether `multicast` was asked for (unicast is the default). */
  readonly multicast: boolean;
  /** `client_port`: the client's RTP and RTCP ports. */
  readonly clientPort?: readonly [number, number];
  /** `interleaved`: the RTP and RTCP channels. */
  readonly interleaved?: readonly [number, number];
  /** `destination`, when given. */
  readonly destination?: string;
  /** `mode`, upper case without quotes, when given. */
  readonly mode?: string;
}

/** The transport a server agreed to, from {@linkcode chooseTransport}. */
export type ChosenTransport =
  | {
    readonly kind: "udp";
    /** The client's RTP and RTCP ports. */
    readonly clientPort: readonly [number, number];
  }
  | {
    readonly kind: "interleaved";
    /** The channels asked for, or `undefined` to let the server choose. */
    readonly channels: readonly [number, number] | undefined;
  };

/** What a server can do, for {@linkcode chooseTransport}. */
export interface TransportSupport {
  /** RTP over UDP unicast. @default {true} */
  udp?: boolean;
  /** RTP interleaved in the RTSP connection. @default {true} */
  tcp?: boolean;
  /**
   * The client's address: a `destination` other than it is refused, so
   * that no one can point the stream at a third party.
   */
  clientAddress?: string;
}

/**
 * Splits a header at commas or semicolons that are not inside quotes.
 */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (c === separator && !quoted) {
      parts.push(text.slice(from, i));
      from = i + 1;
    }
  }
  parts.push(text.slice(from));
  return parts;
}

function pair(
  value: string,
  max: number,
): readonly [number, number] | undefined {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value.trim());
  if (match === null) return undefined;
  const first = Number(match[1]);
  const second = match[2] === undefined ? first + 1 : Number(match[2]);
  if (first > max || second > max) return undefined;
  return [first, second];
}

/**
 * Reads a `Transport` header into the specs it offers, best first.
 *
 * @param header The header's value.
 * @returns The specs, or a one-line reason when one cannot be read.
 *
 * @example Two alternatives
 * ```ts
 * import { parseTransport } from "./transport.ts";
 * const specs = parseTransport("RTP/AVP/TCP;unicast;interleaved=0-1,RTP/AVP;unicast;client_port=5000-5001");
 * console.log(Array.isArray(specs) && specs.map((s) => s.lower)); // [ "TCP", "UDP" ]
 * ```
 */
export function parseTransport(header: string): TransportSpec[] | string {
  const specs: TransportSpec[] = [];
  for (const text of splitOutsideQuotes(header, ",")) {
    const [head = "", ...params] = splitOutsideQuotes(text.trim(), ";");
    const protocol = head.trim().toUpperCase().split("/");
    if (protocol.length < 2 || protocol.length > 3 || protocol[0] === "") {
      return `"${head.trim()}" is not a transport like RTP/AVP or RTP/AVP/TCP`;
    }
    let multicast = false;
    let clientPort: readonly [number, number] | undefined;
    let interleaved: readonly [number, number] | undefined;
    let destination: string | undefined;
    let mode: string | undefined;
    for (const param of params) {
      const equals = param.indexOf("=");
      const name = (equals < 0 ? param : param.slice(0, equals)).trim()
        .toLowerCase();
      const value = equals < 0 ? "" : param.slice(equals + 1).trim();
      switch (name) {
        case "unicast":
          multicast = false;
          break;
        case "multicast":
          multicast = true;
          break;
        case "client_port":
          clientPort = pair(value, 65535);
          if (clientPort === undefined) {
            return `client_port=${value} is not a port or a port pair`;
          }
          break;
        case "interleaved":
          interleaved = pair(value, 255);
          if (interleaved === undefined) {
            return `interleaved=${value} is not a channel or a channel pair from 0 to 255`;
          }
          break;
        case "destination":
          destination = value;
          break;
        case "mode":
          mode = value.replace(/"/g, "").toUpperCase();
          break;
        default:
          // ttl, layers, port, ssrc, append, source: nothing to do.
      }
    }
    specs.push({
      profile: `${protocol[0]}/${protocol[1]}`,
      lower: protocol[2] ?? "UDP",
      multicast,
      ...(clientPort && { clientPort }),
      ...(interleaved && { interleaved }),
      ...(destination !== undefined && { destination }),
      ...(mode !== undefined && { mode }),
    });
  }
  return specs;
}

/**
 * Picks the first transport of a `Transport` header that the server
 * supports: RTP/AVP unicast over UDP with a `client_port` pair, or over
 * TCP interleaved; mode PLAY.
 *
 * @param header The header's value.
 * @param support What the server can do, and the client's address.
 * @returns The choice, or a one-line reason to answer 461 with.
 *
 * @example A client that prefers TCP
 * ```ts
 * import { chooseTransport } from "./transport.ts";
 * const choice = chooseTransport("RTP/AVP/TCP;unicast;interleaved=2-3");
 * console.log(typeof choice !== "string" && choice.kind); // "interleaved"
 * ```
 */
export function chooseTransport(
  header: string,
  support: TransportSupport = {},
): ChosenTransport | string {
  const { udp = true, tcp = true } = support;
  const specs = parseTransport(header);
  if (typeof specs === "string") return specs;
  let reason = "no transport offered";
  for (const spec of specs) {
    if (spec.profile !== "RTP/AVP") {
      reason = `${spec.profile} is not offered; this server sends RTP/AVP`;
    } else if (spec.multicast) {
      reason = "multicast is not offered; ask for unicast UDP or TCP";
    } else if (spec.mode !== undefined && spec.mode !== "PLAY") {
      reason = `mode ${spec.mode} is not offered; this server only plays`;
    } else if (spec.lower === "TCP") {
      if (!tcp) reason = "TCP is not offered; ask for UDP";
      else return { kind: "interleaved", channels: spec.interleaved };
    } else if (spec.lower === "UDP") {
      if (!udp) reason = "UDP is not offered; ask for RTP/AVP/TCP";
      else if (spec.clientPort === undefined) {
        reason = "UDP needs client_port=RTP-RTCP";
      } else if (
        spec.clientPort[0] === 0 || spec.clientPort[1] === 0 ||
        spec.clientPort[0] === spec.clientPort[1]
      ) {
        reason = `client_port=${
          spec.clientPort.join("-")
        } is not two different ports`;
      } else if (
        spec.destination !== undefined &&
        support.clientAddress !== undefined &&
        spec.destination !== support.clientAddress
      ) {
        reason =
          `destination=${spec.destination} is not the client's address; streams go only to the client`;
      } else return { kind: "udp", clientPort: spec.clientPort };
    } else {
      reason = `lower transport ${spec.lower} is not offered`;
    }
  }
  return reason;
}

/** What {@linkcode formatTransport} writes. */
export type TransportReply =
  | {
    readonly kind: "udp";
    /** The client's RTP and RTCP ports. */
    readonly clientPort: readonly [number, number];
    /** The server's RTP and RTCP ports. */
    readonly serverPort: readonly [number, number];
    /** The stream's SSRC, when known. */
    readonly ssrc?: number;
  }
  | {
    readonly kind: "interleaved";
    /** The RTP and RTCP channels. */
    readonly channels: readonly [number, number];
    /** The stream's SSRC, when known. */
    readonly ssrc?: number;
  };

/**
 * Writes the `Transport` header of a SETUP response.
 *
 * @param reply The transport agreed on.
 * @returns The header's value.
 *
 * @example UDP
 * ```ts
 * import { formatTransport } from "./transport.ts";
 * console.log(formatTransport({ kind: "udp", clientPort: [5000, 5001], serverPort: [6970, 6971] }));
 * // "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;mode=\"PLAY\""
 * ```
 */
export function formatTransport(reply: TransportReply): string {
  const ssrc = reply.ssrc === undefined
    ? ""
    : `;ssrc=${(reply.ssrc >>> 0).toString(16).toUpperCase().padStart(8, "0")}`;
  if (reply.kind === "udp") {
    return `RTP/AVP;unicast;client_port=${
      reply.clientPort.join("-")
    };server_port=${reply.serverPort.join("-")}${ssrc};mode="PLAY"`;
  }
  return `RTP/AVP/TCP;unicast;interleaved=${
    reply.channels.join("-")
  }${ssrc};mode="PLAY"`;
}

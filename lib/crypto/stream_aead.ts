/**
 * The AEAD of one end of a stream: it seals with the key of the direction
 * it sends in and opens with the key of the direction it receives from,
 * both derived from the shared key (see `hkdf.ts`).
 *
 * @module
 */

import { type Aead, type AeadOptions, createAead } from "./aead.ts";
import { deriveStreamKeys } from "./hkdf.ts";

/** Which end of a stream: the `sender` sends data, the `receiver` feedback. */
export type StreamRole = "sender" | "receiver";

/**
 * Makes the AEAD of one end of a stream: the sender seals with the
 * sender-to-receiver key and opens with the receiver-to-sender key, and
 * the receiver the other way round.
 *
 * @param sharedKey The 32-byte key both ends hold (a key file's bytes).
 * @param role This end.
 * @param options The implementation and the libcrypto to load.
 * @returns The AEAD; close it when done.
 *
 * @example A sender and a receiver
 * ```ts
 * import { createStreamAead } from "./stream_aead.ts";
 * const shared = crypto.getRandomValues(new Uint8Array(32));
 * using sender = createStreamAead(shared, "sender");
 * using receiver = createStreamAead(shared, "receiver");
 * const packet = new Uint8Array(4 + 3 + 16);
 * packet.set([1, 2, 3], 4);
 * const length = sender.seal(9, 0, packet, 4, 3);
 * const copy = packet.slice();
 * console.log(receiver.open(9, 0, packet, 4, length)); // 3
 * console.log(sender.open(9, 0, copy, 4, length)); // -1: sealed for the other direction
 * ```
 */
export function createStreamAead(
  sharedKey: Uint8Array,
  role: StreamRole,
  options: AeadOptions = {},
): Aead {
  if (role !== "sender" && role !== "receiver") {
    throw new TypeError(
      `Cannot use stream role "${role}": expected sender or receiver`,
    );
  }
  const keys = deriveStreamKeys(sharedKey);
  return createAead(
    role === "sender"
      ? { seal: keys.senderToReceiver, open: keys.receiverToSender }
      : { seal: keys.receiverToSender, open: keys.senderToReceiver },
    options,
  );
}

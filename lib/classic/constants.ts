/**
 * The tutorial's constants: ports, replies and datagram sizes of the classic
 * wire format.
 *
 * @module
 */

/** The tutorial's image port. */
export const DEFAULT_IMAGE_PORT = 9999;
/** The tutorial's message port. */
export const DEFAULT_MESSAGE_PORT = 6666;
/** The tutorial's host. */
export const DEFAULT_HOST = "127.0.0.1";
/** The tutorial's chunk size for part 2. */
export const DEFAULT_CHUNK_SIZE = 1024;
/** The largest UDP payload over IPv4: 65535 − 20 (IP) − 8 (UDP). */
export const MAX_DATAGRAM_BYTES = 65507;
/** What the server replies after each whole image. */
export const IMAGE_REPLY = "get message!!!";
/** What the server replies to a valid JSON message. */
export const MESSAGE_REPLY = "get the msg";
/** The message the tutorial's message client sends every 10 ms. */
export const DEFAULT_MESSAGE = "[0,0,0,1]";

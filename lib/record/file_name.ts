/**
 * Names of recording files and of the viewer's snapshots: the sender, made
 * safe for any file system, and the local time.
 *
 * @module
 */

/**
 * A sender key (`host:port`, `[v6]:port`) as a file-name part: brackets go,
 * and every character but letters, digits, `.` and `-` becomes `_`, so the
 * name is valid on Linux, macOS and Windows alike.
 *
 * @param sender The sender's key, as the server prints it.
 * @returns The safe form.
 *
 * @example IPv4 and IPv6 senders
 * ```ts
 * import { safeSenderName } from "./file_name.ts";
 * console.log(safeSenderName("127.0.0.1:50000")); // "127.0.0.1_50000"
 * console.log(safeSenderName("[::1]:50000")); // "__1_50000"
 * console.log(safeSenderName("[fe80::1%eth0]:7")); // "fe80__1_eth0_7"
 * ```
 */
export function safeSenderName(sender: string): string {
  return sender.replace(/[[\]]/g, "").replace(/[^A-Za-z0-9.-]/g, "_") ||
    "unknown";
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/**
 * A local time as a file-name part, `YYYYmmdd-HHMMSS`: the stamp of
 * recordings and of the viewer's snapshots.
 *
 * @param date The time.
 * @returns The stamp.
 *
 * @example Usage
 * ```ts
 * import { fileTimestamp } from "./file_name.ts";
 * console.log(fileTimestamp(new Date(2026, 0, 31, 9, 5, 7))); // "20260131-090507"
 * ```
 */
export function fileTimestamp(date: Date): string {
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${
    pad(date.getDate())
  }-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

/**
 * The file name of a recording started at `date`:
 * `SENDER-YYYYmmdd-HHMMSS.mkv`, in local time; `attempt` 2 and up add
 * `-2`, `-3`, … before the extension, for a second file in the same second.
 *
 * @param sender The sender's key.
 * @param date When the file starts.
 * @param attempt 1 for the plain name. @default {1}
 * @returns The file name, without a folder.
 *
 * @example Usage
 * ```ts
 * import { recordingFileName } from "./file_name.ts";
 * const date = new Date(2026, 0, 31, 9, 5, 7);
 * console.log(recordingFileName("127.0.0.1:50000", date)); // "127.0.0.1_50000-20260131-090507.mkv"
 * console.log(recordingFileName("127.0.0.1:50000", date, 2)); // "127.0.0.1_50000-20260131-090507-2.mkv"
 * ```
 */
export function recordingFileName(
  sender: string,
  date: Date,
  attempt = 1,
): string {
  const suffix = attempt > 1 ? `-${attempt}` : "";
  return `${safeSenderName(sender)}-${fileTimestamp(date)}${suffix}.mkv`;
}

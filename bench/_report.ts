/**
 * Markdown tables for the benchmark: the measured rows, the ratios against
 * the tutorial and GStreamer with the 3× goal, and the datagram size
 * sweep.
 *
 * @module
 */

/**
 * What the client does per frame. `re-encode`: encode the photo at quality
 * 95 for every frame, as the tutorial does with each camera frame.
 * `pre-encoded`: send the photo's bytes unchanged every frame.
 */
export type Mode = "re-encode" | "pre-encoded";

/** Both modes, in table order. */
export const MODES: readonly Mode[] = ["re-encode", "pre-encoded"];

/** One stop-and-wait or GStreamer measurement. */
export interface Run {
  /** Frames the server decoded, per second. */
  readonly fps: number;
  /** Bytes of JPEG per frame. */
  readonly bytesPerFrame: number;
  /** `fps × bytesPerFrame / 1e6`. */
  readonly mbPerSecond: number;
  /** Frames sent. */
  readonly frames: number;
  /** Frames sent but not decoded. */
  readonly lost: number;
  /** The server's VmHWM in bytes, when known. */
  readonly peakRssBytes: number | undefined;
  /** Frames the server could not decode: junk after losing sync. */
  readonly undecodable?: number;
  /** Details for the notes column. */
  readonly note?: string;
}

/** A table row: its runs, and why it stopped if it failed or was not run. */
export interface Row {
  /** The peer's name in the table. */
  readonly peer: string;
  /** What the client did per frame. */
  readonly mode: Mode;
  /** Frame size, such as `1280x720`. */
  readonly size: string;
  /** `--chunk-size`, for the sweep rows. */
  readonly chunkSize?: number;
  /** Successful runs. */
  readonly runs: Run[];
  /** Why the row has no (more) runs. */
  error?: string;
}

/** The table names of the peers the ratios compare. */
export interface PeerNames {
  /** Our pair. */
  readonly ours: string;
  /** The tutorial's pair as written. */
  readonly tutorial: string;
  /** The tutorial's pair with a 4 MiB receive buffer. */
  readonly tuned: string;
  /** GStreamer RTP/JPEG. */
  readonly gstreamer: string;
}

/** The goal: ours at least this many times the tutorial's fps. */
export const GOAL = 3;

/**
 * The median of `values`, or NaN when there are none.
 *
 * @param values Numbers.
 * @returns Their median.
 *
 * @example
 * ```ts
 * import { median } from "./_report.ts";
 * console.log(median([3, 1, 2])); // 2
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? sorted[mid] as number
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The median fps of a row, or NaN when it failed or is missing.
 *
 * @param rows All rows.
 * @param peer The peer's table name.
 * @param mode The mode.
 * @param size The frame size.
 * @returns Median frames per second.
 *
 * @example
 * ```ts
 * import { rowFps } from "./_report.ts";
 * console.log(rowFps([], "ours", "re-encode", "640x480")); // NaN
 * ```
 */
export function rowFps(
  rows: readonly Row[],
  peer: string,
  mode: Mode,
  size: string,
): number {
  const row = rows.find((r) =>
    r.peer === peer && r.mode === mode && r.size === size &&
    r.chunkSize === undefined
  );
  return row && row.error === undefined
    ? median(row.runs.map((r) => r.fps))
    : Number.NaN;
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0
    ? `${(a / b).toFixed(2)}×`
    : "–";
}

function goal(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return "–";
  return a / b >= GOAL ? "met" : "missed";
}

function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
}

function formatBytes(bytes: number | undefined): string {
  return bytes === undefined ? "?" : `${(bytes / (1 << 20)).toFixed(0)} MiB`;
}

function escape(text: string): string {
  return text.replaceAll("|", "\\|");
}

/** Median, loss and memory cells of a row, or its error. */
function cells(row: Row): {
  bytes: string;
  fps: string;
  mb: string;
  lost: string;
  rss: string;
  notes: string;
} {
  if (row.runs.length === 0) {
    return {
      bytes: "",
      fps: "–",
      mb: "–",
      lost: "",
      rss: "",
      notes: escape(row.error ?? "no runs"),
    };
  }
  const lost = row.runs.reduce((sum, r) => sum + r.lost, 0);
  const sent = row.runs.reduce((sum, r) => sum + r.frames, 0);
  const rss = Math.max(...row.runs.map((r) => r.peakRssBytes ?? 0));
  const notes: string[] = [];
  if (row.error !== undefined) {
    notes.push(
      `stopped after ${row.runs.length} run(s): ${escape(row.error)}`,
    );
  }
  const desynced = row.runs.filter((r) => (r.undecodable ?? 0) > 0);
  if (desynced.length > 0) {
    notes.push(
      `server lost sync in ${desynced.length} of ${row.runs.length} runs (${
        desynced.reduce((sum, r) => sum + (r.undecodable ?? 0), 0)
      } undecodable frames)`,
    );
  }
  const typical = [...row.runs].sort((a, b) => a.fps - b.fps)[
    Math.floor(row.runs.length / 2)
  ];
  if (typical?.note !== undefined) notes.push(`median run: ${typical.note}`);
  return {
    bytes: String(Math.round(median(row.runs.map((r) => r.bytesPerFrame)))),
    fps: fmt(median(row.runs.map((r) => r.fps))),
    mb: fmt(median(row.runs.map((r) => r.mbPerSecond))),
    lost: `${lost}/${sent}`,
    rss: formatBytes(rss || undefined),
    notes: notes.join("; "),
  };
}

/**
 * The measured rows as a markdown table.
 *
 * @param rows The rows, in table order.
 * @returns Markdown lines.
 *
 * @example
 * ```ts
 * import { mainTable } from "./_report.ts";
 * console.log(mainTable([]).join("\n"));
 * ```
 */
export function mainTable(rows: readonly Row[]): string[] {
  const lines = [
    "| Frame | Mode | Peer | Bytes/frame | fps (median) | MB/s | Lost | Server peak RSS | Notes |",
    "|---|---|---|---:|---:|---:|---:|---:|---|",
  ];
  for (const row of rows) {
    const c = cells(row);
    lines.push(
      `| ${row.size} | ${row.mode} | ${row.peer} | ${c.bytes} | ${c.fps} | ${c.mb} | ${c.lost} | ${c.rss} | ${c.notes} |`,
    );
  }
  return lines;
}

/**
 * Ours against the tutorial, the tutorial with a larger receive buffer and
 * GStreamer, per frame size and mode, with whether the 3× goal is met.
 *
 * @param rows All rows.
 * @param sizes Frame sizes, in order.
 * @param names The peers' table names.
 * @returns Markdown lines.
 *
 * @example
 * ```ts
 * import { ratioTable } from "./_report.ts";
 * const names = { ours: "ours", tutorial: "t", tuned: "t+", gstreamer: "g" };
 * console.log(ratioTable([], ["640x480"], names).join("\n"));
 * ```
 */
export function ratioTable(
  rows: readonly Row[],
  sizes: readonly string[],
  names: PeerNames,
): string[] {
  const lines = [
    `| Frame | Mode | ours fps | tutorial fps | tutorial + rcvbuf fps | ours/tutorial | ours/(tutorial + rcvbuf) | goal ≥${GOAL}× tutorial | goal ≥${GOAL}× tutorial + rcvbuf | GStreamer fps | ours/GStreamer |`,
    "|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|",
  ];
  for (const size of sizes) {
    for (const mode of MODES) {
      const ours = rowFps(rows, names.ours, mode, size);
      const tutorial = rowFps(rows, names.tutorial, mode, size);
      const tuned = rowFps(rows, names.tuned, mode, size);
      // GStreamer never encodes: it compares with the pre-encoded mode only.
      const gst = mode === "pre-encoded"
        ? rowFps(rows, names.gstreamer, mode, size)
        : Number.NaN;
      lines.push(
        `| ${size} | ${mode} | ${fmt(ours)} | ${fmt(tutorial)} | ${
          fmt(tuned)
        } | ${ratio(ours, tutorial)} | ${ratio(ours, tuned)} | ${
          goal(ours, tutorial)
        } | ${goal(ours, tuned)} | ${fmt(gst)} | ${ratio(ours, gst)} |`,
      );
    }
  }
  return lines;
}

/**
 * One sentence per mode on the issue's goal at `size`.
 *
 * @param rows All rows.
 * @param size The frame size the goal is stated for.
 * @param names The peers' table names.
 * @returns Markdown list items.
 *
 * @example
 * ```ts
 * import { goalSummary } from "./_report.ts";
 * const names = { ours: "ours", tutorial: "t", tuned: "t+", gstreamer: "g" };
 * console.log(goalSummary([], "1280x720", names).join("\n"));
 * ```
 */
export function goalSummary(
  rows: readonly Row[],
  size: string,
  names: PeerNames,
): string[] {
  return MODES.map((mode) => {
    const ours = rowFps(rows, names.ours, mode, size);
    const tutorial = rowFps(rows, names.tutorial, mode, size);
    const tuned = rowFps(rows, names.tuned, mode, size);
    const against = (other: number, label: string): string =>
      Number.isFinite(ours) && Number.isFinite(other) && other > 0
        ? `${goal(ours, other)} against ${label} (${
          (ours / other).toFixed(2)
        }×)`
        : `not measured against ${label}`;
    return `- ${mode} at ${size}: ${against(tutorial, "the tutorial")}; ${
      against(tuned, "the tutorial + 4 MiB SO_RCVBUF")
    }`;
  });
}

/**
 * The datagram size sweep: our pair, pre-encoded, at one frame size.
 *
 * @param rows The sweep rows, each with `chunkSize`.
 * @returns Markdown lines.
 *
 * @example
 * ```ts
 * import { sweepTable } from "./_report.ts";
 * console.log(sweepTable([]).join("\n"));
 * ```
 */
export function sweepTable(rows: readonly Row[]): string[] {
  const lines = [
    "| --chunk-size | Datagrams/frame | fps (median) | MB/s | Lost | Server peak RSS | Notes |",
    "|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const row of rows) {
    const c = cells(row);
    const bytes = Number(c.bytes);
    const datagrams = row.chunkSize !== undefined && bytes > 0
      ? String(1 + Math.ceil(bytes / row.chunkSize))
      : "";
    lines.push(
      `| ${
        row.chunkSize ?? ""
      } | ${datagrams} | ${c.fps} | ${c.mb} | ${c.lost} | ${c.rss} | ${c.notes} |`,
    );
  }
  return lines;
}

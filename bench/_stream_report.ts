/**
 * The pure parts of the stream protocol's benchmark (`stream_bench.ts`):
 * counting which received frames are byte-exact copies of sent ones, and
 * drawing delivered-against-loss as an SVG line chart.
 *
 * @module
 */

/** What a receiver saved, judged against what was sent. */
export interface DeliveryCount {
  /** Distinct sent frames received byte for byte. */
  exact: number;
  /** Received frames that match no sent frame: damaged or spliced. */
  corrupt: number;
  /** Received copies of a sent frame beyond the first. */
  duplicates: number;
}

/** FNV-1a over the bytes, as a cheap first filter before comparing. */
function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * A key for a frame's content: its length and FNV-1a hash. Equal frames
 * have equal keys; unequal frames almost never do.
 *
 * @param bytes The frame.
 * @returns The key.
 *
 * @example
 * ```ts
 * import { frameKey } from "./_stream_report.ts";
 * console.log(frameKey(new Uint8Array([1])) === frameKey(new Uint8Array([1]))); // true
 * ```
 */
export function frameKey(bytes: Uint8Array): string {
  return `${bytes.length}:${fnv1a(bytes)}`;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Counts the received frames that are byte-exact copies of sent frames,
 * whatever their order, and those that are not. The sent frames should be
 * distinct, or a damaged frame could pass for another one.
 *
 * @param sent The frames sent.
 * @param received The frames the receiver saved, in any order.
 * @param counted How many of the sent frames count; copies of the rest
 *   (padding sent after them) count neither as exact nor as corrupt.
 * @returns Exact, corrupt and duplicate counts.
 *
 * @example One whole, one damaged, one repeated
 * ```ts
 * import { countDelivered } from "./_stream_report.ts";
 * const a = new Uint8Array([1, 2, 3]), b = new Uint8Array([4, 5, 6]);
 * const got = countDelivered([a, b], [a, a, new Uint8Array([4, 0, 6])]);
 * console.log(got); // { exact: 1, corrupt: 1, duplicates: 1 }
 * ```
 */
export function countDelivered(
  sent: readonly Uint8Array[],
  received: Iterable<Uint8Array>,
  counted: number = sent.length,
): DeliveryCount {
  const byKey = new Map<string, number[]>();
  sent.forEach((frame, index) => {
    const key = frameKey(frame);
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [index]);
    else list.push(index);
  });
  const seen = new Set<number>();
  const count: DeliveryCount = { exact: 0, corrupt: 0, duplicates: 0 };
  for (const frame of received) {
    const candidates = byKey.get(frameKey(frame)) ?? [];
    const match = candidates.find((index) => equal(sent[index]!, frame));
    if (match === undefined) count.corrupt++;
    else if (match >= counted) continue;
    else if (seen.has(match)) count.duplicates++;
    else {
      seen.add(match);
      count.exact++;
    }
  }
  return count;
}

/** One line of {@linkcode lossChart}. */
export interface ChartSeries {
  /** The legend's label. */
  readonly name: string;
  /** Points as `[x, y]`: loss in percent, delivered in percent. */
  readonly points: readonly (readonly [number, number])[];
}

/** Options for {@linkcode lossChart}. */
export interface LossChartOptions {
  /** The chart's title. @default {"Frames delivered whole against loss"} */
  title?: string;
  /** Width in pixels. @default {640} */
  width?: number;
  /** Height in pixels. @default {400} */
  height?: number;
}

const COLOURS = ["#888888", "#1f77b4", "#2ca02c", "#d62728", "#9467bd"];
/** Dashes, so that lines on top of each other both show. */
const DASHES = ["", "", "7 5", "2 3", "9 3 2 3"];

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/**
 * Draws frames delivered (percent, 0 to 100) against datagram loss
 * (percent) as a standalone SVG line chart, one line per series. The loss
 * axis is spaced by rank (each measured loss rate one step), so that 0, 1
 * and 5% do not crowd together next to 20%.
 *
 * @param series The lines.
 * @param options Title and size.
 * @returns The SVG document.
 *
 * @example Two protocols
 * ```ts
 * import { lossChart } from "./_stream_report.ts";
 * const svg = lossChart([
 *   { name: "stream", points: [[0, 100], [20, 99.7]] },
 *   { name: "classic", points: [[0, 100], [20, 0]] },
 * ]);
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function lossChart(
  series: readonly ChartSeries[],
  options: LossChartOptions = {},
): string {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const title = options.title ?? "Frames delivered whole against loss";
  const left = 56, right = 180, top = 36, bottom = 48;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))]
    .sort((a, b) => a - b);
  const xAt = (x: number): number => {
    const rank = xs.indexOf(x);
    return left + (xs.length > 1 ? (rank / (xs.length - 1)) * plotW : 0);
  };
  const yAt = (y: number): number =>
    top + plotH - (Math.max(0, Math.min(100, y)) / 100) * plotH;
  const n = (v: number): string => v.toFixed(1);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left + plotW / 2}" y="20" text-anchor="middle" font-size="14">${
      escapeXml(title)
    }</text>`,
  ];
  for (let y = 0; y <= 100; y += 20) {
    parts.push(
      `<line x1="${left}" y1="${n(yAt(y))}" x2="${left + plotW}" y2="${
        n(yAt(y))
      }" stroke="#dddddd"/>`,
      `<text x="${left - 6}" y="${
        n(yAt(y) + 4)
      }" text-anchor="end">${y}%</text>`,
    );
  }
  for (const x of xs) {
    parts.push(
      `<line x1="${n(xAt(x))}" y1="${top}" x2="${n(xAt(x))}" y2="${
        top + plotH
      }" stroke="#eeeeee"/>`,
      `<text x="${n(xAt(x))}" y="${
        top + plotH + 16
      }" text-anchor="middle">${x}%</text>`,
    );
  }
  parts.push(
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444444"/>`,
    `<text x="${left + plotW / 2}" y="${
      height - 10
    }" text-anchor="middle">datagrams lost each way (plus 1% duplicated, 2% reordered)</text>`,
    `<text x="14" y="${
      top + plotH / 2
    }" text-anchor="middle" transform="rotate(-90 14 ${
      top + plotH / 2
    })">frames delivered byte-exact</text>`,
  );
  series.forEach((line, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const dash = DASHES[i % DASHES.length]!;
    const dashed = dash === "" ? "" : ` stroke-dasharray="${dash}"`;
    const points = [...line.points].sort((a, b) => a[0] - b[0]);
    parts.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="2"${dashed} points="${
        points.map(([x, y]) => `${n(xAt(x))},${n(yAt(y))}`).join(" ")
      }"/>`,
      ...points.map(([x, y]) =>
        `<circle cx="${n(xAt(x))}" cy="${
          n(yAt(y))
        }" r="3" fill="${colour}"><title>${escapeXml(line.name)}: ${
          y.toFixed(1)
        }% at ${x}% loss</title></circle>`
      ),
      `<line x1="${left + plotW + 12}" y1="${top + 10 + i * 20}" x2="${
        left + plotW + 32
      }" y2="${
        top + 10 + i * 20
      }" stroke="${colour}" stroke-width="2"${dashed}/>`,
      `<text x="${left + plotW + 38}" y="${top + 14 + i * 20}">${
        escapeXml(line.name)
      }</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

/**
 * The nearest-rank quantile of `values`, or NaN when there are none.
 *
 * @param values Numbers, in any order.
 * @param q From 0 to 1, such as 0.99.
 * @returns The smallest value with at least a share `q` of values at or below it.
 *
 * @example
 * ```ts
 * import { quantile } from "./_stream_report.ts";
 * console.log(quantile([5, 1, 4, 2, 3], 0.5)); // 3
 * ```
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(
    sorted.length,
    Math.max(1, Math.ceil(q * sorted.length)),
  );
  return sorted[rank - 1]!;
}

/**
 * Per-frame latencies from two lists of times, the i-th sent frame against
 * the i-th received one; valid only when no frame was lost between them.
 *
 * @param sentAtMs When each frame left, in order.
 * @param receivedAtMs When each frame was done, in order.
 * @returns One latency per frame present in both lists.
 *
 * @example
 * ```ts
 * import { pairLatencies } from "./_stream_report.ts";
 * console.log(pairLatencies([0, 33, 66], [5, 40])); // [ 5, 7 ]
 * ```
 */
export function pairLatencies(
  sentAtMs: readonly number[],
  receivedAtMs: readonly number[],
): number[] {
  const n = Math.min(sentAtMs.length, receivedAtMs.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(receivedAtMs[i]! - sentAtMs[i]!);
  return out;
}

/**
 * Why ffmpeg (or ffprobe) could not be started, in one line that says what
 * to do, for capture, probing and recording alike.
 *
 * @module
 */

/** A failed spawn of a media tool, explained. */
export interface SpawnProblem {
  /** `not-found` or `permission`. */
  reason: "not-found" | "permission";
  /** One line: what was wrong and what to do. */
  message: string;
}

/**
 * Explains the error `new Deno.Command(path).spawn()` threw, when it is a
 * missing executable or a missing permission.
 *
 * @param error What spawn threw.
 * @param path The executable, such as `ffmpeg`.
 * @returns The problem, or `undefined` for any other error.
 */
export function spawnProblem(
  error: unknown,
  path: string,
): SpawnProblem | undefined {
  const name = path.split(/[\\/]/).pop() || path;
  const tool = /^ffprobe/.test(name) ? "ffprobe" : "ffmpeg";
  const where = path === tool ? "" : ` at ${path}`;
  if (error instanceof Deno.errors.NotFound) {
    return {
      reason: "not-found",
      message:
        `${tool} not found${where}: install it with apt-get install ffmpeg (macOS: brew install ffmpeg)`,
    };
  }
  if (
    error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied
  ) {
    return {
      reason: "permission",
      message:
        `Cannot run ${tool}${where}: permission denied, allow it with --allow-run=${path}`,
    };
  }
  return undefined;
}

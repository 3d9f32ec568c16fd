/**
 * Why a file could not be read or written, in a few words for a one-line
 * message: the reason without Deno's "(os error N): op 'path'" tail, which
 * repeats what the caller's message already names.
 *
 * @param error What `Deno.readFile`, `Deno.writeFile` or the like threw.
 * @param options `writing`: the file was being made, so a missing path
 * means its directory is missing.
 * @returns The reason, such as "no such file" or "it is a directory".
 *
 * @example Usage
 * ```ts
 * import { fileErrorReason } from "./_file_error.ts";
 * console.log(fileErrorReason(new Deno.errors.NotFound("x"))); // "no such file"
 * ```
 */
export function fileErrorReason(
  error: unknown,
  options: { writing?: boolean } = {},
): string {
  if (error instanceof Deno.errors.NotFound) {
    return options.writing ? "its directory does not exist" : "no such file";
  }
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (error instanceof Deno.errors.NotADirectory) {
    return "a part of its path is a file, not a directory";
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `Deno may not access it (run with -P or ${
      options.writing ? "--allow-write" : "--allow-read"
    })`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, " ").replace(/ \(os error \d+\).*$/, "")
    .trim();
}

import assert from "node:assert/strict";
import { UsageError } from "../lib/cli/cli.ts";
import { sizeFlag } from "../lib/cli/size_flag.ts";

Deno.test("sizeFlag reads WIDTHxHEIGHT, and nothing when the flag is absent", () => {
  assert.deepEqual(sizeFlag("size", "640x480"), { width: 640, height: 480 });
  assert.deepEqual(sizeFlag("size", "16x8192"), { width: 16, height: 8192 });
  assert.deepEqual(sizeFlag("size", undefined), {});
});

Deno.test("sizeFlag refuses text that is not a size, or a side outside 16 to 8192, naming the flag and the text", () => {
  for (
    const bad of ["640", "640x", "x480", "15x480", "640x8193", "0x0", "a.jpg"]
  ) {
    assert.throws(
      () => sizeFlag("size", bad),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message ===
          `--size must be WIDTHxHEIGHT, each from 16 to 8192, got '${bad}'`,
    );
  }
});

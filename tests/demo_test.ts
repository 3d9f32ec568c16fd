import assert from "node:assert/strict";
import { runDemoSender } from "../lib/demo.ts";

Deno.test("runDemoSender refuses a frame rate that is not a positive number", async () => {
  for (const fps of [0, -1, Number.NaN, Infinity]) {
    await assert.rejects(
      runDemoSender({ port: 9, fps, signal: AbortSignal.abort() }),
      (error: Error) =>
        error instanceof RangeError && error.message.includes("fps"),
    );
  }
});

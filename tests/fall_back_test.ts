import assert from "node:assert/strict";
import { listenOrFallBack } from "../lib/cli/fall_back.ts";

Deno.test("listenOrFallBack listens again on free ports only when allowed and the port is in use", async () => {
  const calls: boolean[] = [];
  const inUse = (free: boolean) => {
    calls.push(free);
    return free
      ? Promise.resolve("free")
      : Promise.reject(new Error("Address already in use (os error 98)"));
  };
  assert.equal(await listenOrFallBack(true, inUse), "free");
  assert.deepEqual(calls, [false, true]);
  await assert.rejects(listenOrFallBack(false, inUse), /already in use/);
});

Deno.test("listenOrFallBack passes on any other failure", async () => {
  let calls = 0;
  await assert.rejects(
    listenOrFallBack(true, () => {
      calls++;
      return Promise.reject(new Error("Permission denied"));
    }),
    /Permission denied/,
  );
  assert.equal(calls, 1);
});

import assert from "node:assert/strict";
import { UsageError } from "../lib/cli/cli.ts";
import { multicastFlags } from "../lib/cli/multicast_flag.ts";

Deno.test("multicastFlags gives a group its TTL (1 by default) and interface", async () => {
  assert.deepEqual(await multicastFlags("239.1.2.3", {}), {
    multicast: true,
    multicastTtl: 1,
  });
  assert.deepEqual(
    await multicastFlags("ff02::1", { ttl: "8", "multicast-if": "::1" }),
    { multicast: true, multicastTtl: 8, multicastInterface: "::1" },
  );
});

Deno.test("multicastFlags refuses --ttl or --multicast-if with a host that is not a group", async () => {
  assert.deepEqual(await multicastFlags("127.0.0.1", {}), { multicast: false });
  for (const flags of [{ ttl: "2" }, { "multicast-if": "127.0.0.1" }]) {
    await assert.rejects(
      multicastFlags("127.0.0.1", flags),
      (error: unknown) =>
        error instanceof UsageError &&
        /go with a multicast --host/.test(error.message),
    );
  }
  await assert.rejects(multicastFlags("239.1.2.3", { ttl: "256" }), UsageError);
});

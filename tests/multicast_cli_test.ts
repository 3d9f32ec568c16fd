import assert from "node:assert/strict";
import { missing } from "./_deps.ts";
import { Child, root, withTempDir } from "./_process.ts";
import type { MulticastCliPlan, MulticastCliResult } from "./_multicast_cli.ts";

// Each scenario runs in a private network namespace (unshare -n) with only
// its loopback up, so that no packet can leave the machine.

async function inNamespace(
  plan: MulticastCliPlan,
): Promise<MulticastCliResult> {
  const child = new Child("unshare", [
    "-n",
    "bash",
    "-c",
    `ip link set lo up && exec "$0" run -q -P=test "$@"`,
    Deno.execPath(),
    `${root}tests/_multicast_cli.ts`,
    JSON.stringify(plan),
  ], { cwd: root });
  try {
    const [line] = await child.waitFor(/^\{"result":.*$/, 120_000);
    const status = await child.exit();
    assert.ok(status.success, `the scenario failed: ${child.stderr}`);
    return (JSON.parse(line) as { result: MulticastCliResult }).result;
  } finally {
    await child[Symbol.asyncDispose]();
  }
}

for (const protocol of ["rtp", "stream"] as const) {
  Deno.test({
    name:
      `client.ts --protocol ${protocol} to a multicast group reaches two servers that --join it, every frame`,
    ignore: Deno.build.os !== "linux" || missing("netns"),
    async fn() {
      await withTempDir("udpimg-mcast-", async (dir) => {
        const count = 40;
        const result = await inNamespace({
          protocol,
          group: "239.255.7.1",
          port: 5004,
          count,
          members: 2,
          dir,
        });
        assert.equal(result.frames.length, 2);
        result.frames.forEach((frames, i) =>
          assert.equal(frames.length, count, result.summaries[i])
        );
        // Every member saved the same frames, each a different one.
        assert.deepEqual(result.frames[0], result.frames[1]);
        assert.equal(new Set(result.frames[0]).size, count);
        for (const summary of result.summaries) {
          assert.match(summary, new RegExp(`^frames=${count} `));
        }
      });
    },
  });
}

Deno.test({
  name:
    "client.ts --protocol stream, sealed, to a group: two members and one behind a 10%-loss relay get every frame, repaired by the group's retransmissions and FEC",
  ignore: Deno.build.os !== "linux" || missing("netns"),
  async fn() {
    await withTempDir("udpimg-mcast-", async (dir) => {
      const count = 40;
      const result = await inNamespace({
        protocol: "stream",
        group: "239.255.7.2",
        port: 5006,
        count,
        members: 2,
        lossyMember: 0.1,
        sealed: true,
        dir,
      });
      assert.equal(result.frames.length, 3);
      for (const [i, frames] of result.frames.entries()) {
        assert.equal(frames.length, count, result.summaries[i]);
        assert.deepEqual(frames, result.frames[0]);
      }
      assert.ok(result.relayLost! > 0, "the relay dropped nothing");
      for (const summary of result.summaries) {
        assert.match(
          summary,
          new RegExp(`^frames=${count} .* unauthenticated=0 replayed=\\d+`),
        );
      }
      const retransmitted = /retransmitted=(\d+) fec=(\d+)/.exec(
        result.client!,
      );
      assert.ok(retransmitted, result.client);
      assert.ok(Number(retransmitted[1]) + Number(retransmitted[2]) > 0);
    });
  },
});

import assert from "node:assert/strict";
import {
  chooseTransport,
  formatTransport,
  parseTransport,
} from "../lib/rtsp/transport.ts";

Deno.test("parseTransport reads what ffmpeg, GStreamer and VLC send", () => {
  assert.deepEqual(
    parseTransport("RTP/AVP/UDP;unicast;client_port=5000-5001"),
    [
      {
        profile: "RTP/AVP",
        lower: "UDP",
        multicast: false,
        clientPort: [5000, 5001],
      },
    ],
  );
  assert.deepEqual(
    parseTransport(
      'RTP/AVP/TCP;unicast;interleaved=0-1;mode="PLAY",RTP/AVP;unicast;client_port=6000',
    ),
    [
      {
        profile: "RTP/AVP",
        lower: "TCP",
        multicast: false,
        interleaved: [0, 1],
        mode: "PLAY",
      },
      {
        profile: "RTP/AVP",
        lower: "UDP",
        multicast: false,
        clientPort: [6000, 6001],
      },
    ],
  );
  assert.match(String(parseTransport("nonsense")), /not a transport/);
  assert.match(
    String(parseTransport("RTP/AVP;client_port=70000-70001")),
    /client_port/,
  );
  assert.match(
    String(parseTransport("RTP/AVP/TCP;interleaved=300")),
    /0 to 255/,
  );
});

Deno.test("chooseTransport takes the first transport the server offers", () => {
  assert.deepEqual(
    chooseTransport("RTP/AVP;multicast,RTP/AVP;unicast;client_port=5000-5001"),
    { kind: "udp", clientPort: [5000, 5001] },
  );
  assert.deepEqual(
    chooseTransport("RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP", {
      udp: false,
    }),
    { kind: "interleaved", channels: undefined },
  );
});

Deno.test("chooseTransport says why it refuses a transport", () => {
  const cases: [string, RegExp][] = [
    ["RTP/AVP;multicast", /multicast/],
    ["RTP/SAVP;unicast;client_port=1-2", /RTP\/SAVP/],
    ["RTP/AVP;unicast", /client_port/],
    ["RTP/AVP;unicast;client_port=0-1", /two different ports/],
    ["RTP/AVP;unicast;client_port=5000-5000", /two different ports/],
    ["RTP/AVP/TCP;interleaved=0-1;mode=RECORD", /mode RECORD/],
    ["RTP/AVP/SCTP", /SCTP/],
    [
      "RTP/AVP;unicast;destination=10.9.8.7;client_port=5000-5001",
      /destination/,
    ],
  ];
  for (const [header, reason] of cases) {
    const choice = chooseTransport(header, { clientAddress: "127.0.0.1" });
    assert.equal(typeof choice, "string", header);
    assert.match(choice as string, reason, header);
  }
  assert.match(
    String(chooseTransport("RTP/AVP/TCP", { tcp: false })),
    /TCP is not offered/,
  );
});

Deno.test("formatTransport writes the server's answer", () => {
  assert.equal(
    formatTransport({
      kind: "udp",
      clientPort: [5000, 5001],
      serverPort: [6970, 6971],
      ssrc: 0xabc,
    }),
    'RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=00000ABC;mode="PLAY"',
  );
  assert.equal(
    formatTransport({ kind: "interleaved", channels: [2, 3] }),
    'RTP/AVP/TCP;unicast;interleaved=2-3;mode="PLAY"',
  );
});

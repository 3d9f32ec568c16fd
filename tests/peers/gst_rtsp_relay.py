"""A media server in front of udpimg's RTSP server, as people put one there to
fan one camera out to many viewers: GStreamer's RTSP server (the library
behind gst-rtsp-server's test-launch) re-serves SOURCE on PORT at /cam, with
one shared pipeline for every viewer.

Usage: gst_rtsp_relay.py SOURCE PORT
Prints "ready rtsp://127.0.0.1:PORT/cam" when it listens.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

source, port = sys.argv[1], sys.argv[2]
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f"( rtspsrc location={source} latency=0 ! rtpjpegdepay ! rtpjpegpay name=pay0 pt=26 )"
)
factory.set_shared(True)
server.get_mount_points().add_factory("/cam", factory)
if server.attach(None) == 0:
    sys.exit(f"cannot listen on port {port}")
print(f"ready rtsp://127.0.0.1:{server.get_bound_port()}/cam", flush=True)
GLib.MainLoop().run()

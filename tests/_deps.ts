/**
 * System dependencies of the tests. Outside CI a test whose dependency is
 * missing is ignored with a message that says what to install; in CI
 * (`CI=true`) it runs, and fails.
 *
 * @module
 */

const inCi = Deno.env.get("CI") === "true";
const cache = new Map<string, boolean>();

function commandWorks(cmd: string, args: string[]): boolean {
  try {
    const { success } = new Deno.Command(cmd, {
      args,
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return success;
  } catch {
    return false;
  }
}

function libraryLoads(paths: string[]): boolean {
  for (const path of paths) {
    try {
      Deno.dlopen(path, {}).close();
      return true;
    } catch {
      // try the next name
    }
  }
  return false;
}

/** The system dependencies tests may need, with how to probe and install them. */
const DEPS = {
  ffmpeg: {
    probe: () => commandWorks("ffmpeg", ["-version"]),
    install: "apt-get install ffmpeg",
  },
  python3: {
    probe: () => commandWorks("/usr/bin/python3", ["--version"]),
    install: "apt-get install python3",
  },
  opencv: {
    probe: () => commandWorks("/usr/bin/python3", ["-c", "import cv2"]),
    install: "apt-get install python3-opencv",
  },
  turbojpeg: {
    probe: () => libraryLoads(["libturbojpeg.so.0", "libturbojpeg.so"]),
    install: "apt-get install libturbojpeg0",
  },
  libcrypto: {
    probe: () => libraryLoads(["libcrypto.so.3", "libcrypto.so"]),
    install: "apt-get install libssl3",
  },
  chromium: {
    probe: () => commandWorks("/usr/bin/chromium", ["--version"]),
    install: "apt-get install chromium",
  },
  // A private network namespace with its loopback up: needs root (or
  // CAP_SYS_ADMIN), util-linux's unshare and iproute2's ip.
  netns: {
    probe: () =>
      commandWorks("unshare", ["-n", "ip", "link", "set", "lo", "up"]),
    install: "apt-get install util-linux iproute2, and run as root",
  },
  gstreamer: {
    probe: () => commandWorks("gst-inspect-1.0", ["rtpjpegpay"]),
    install: "apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good",
  },
  rtspsrc: {
    probe: () => commandWorks("gst-inspect-1.0", ["rtspsrc"]),
    install: "apt-get install gstreamer1.0-plugins-good gstreamer1.0-rtsp",
  },
  "gst-rtsp-server": {
    probe: () =>
      commandWorks("/usr/bin/python3", [
        "-c",
        "import gi; gi.require_version('GstRtspServer', '1.0')",
      ]),
    install: "apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi",
  },
} as const;

/** A system dependency name. */
export type Dep = keyof typeof DEPS;

/**
 * Returns the `ignore` value for a `Deno.test` that needs `deps`: true (and a
 * printed hint) when one is missing outside CI, false otherwise, so that in
 * CI the test runs and fails.
 */
export function missing(...deps: Dep[]): boolean {
  const absent = deps.filter((dep) => {
    let ok = cache.get(dep);
    if (ok === undefined) {
      ok = DEPS[dep].probe();
      cache.set(dep, ok);
    }
    return !ok;
  });
  if (absent.length === 0 || inCi) return false;
  const hints = absent.map((dep) => `${dep} (${DEPS[dep].install})`);
  console.warn(`ignoring a test: missing ${hints.join(", ")}`);
  return true;
}

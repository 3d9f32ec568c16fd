import assert from "node:assert/strict";
import fc from "fast-check";
import {
  formatKey,
  generateKey,
  KEY_FILE_ENV,
  loadKey,
  parseKey,
  readKeyFile,
  writeKeyFile,
} from "../lib/crypto/mod.ts";
import { KEY_FILE_OPTION, loadKeyFlag } from "../lib/cli/key_file_flag.ts";
import { parseFlags } from "../lib/cli/cli.ts";
import { script, withTempDir } from "./_process.ts";

const posix = Deno.build.os !== "windows";

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("udpimg_key_", fn);
}

async function writeText(path: string, text: string | Uint8Array) {
  const bytes = typeof text === "string"
    ? new TextEncoder().encode(text)
    : text;
  await Deno.writeFile(path, bytes, { mode: 0o600 });
  if (posix) await Deno.chmod(path, 0o600);
}

async function readError(path: string): Promise<string> {
  const warnings: string[] = [];
  const err = await readKeyFile(path, { warn: (line) => warnings.push(line) })
    .then(() => undefined, (e: Error) => e);
  assert.ok(err instanceof Error, `${path} should not load`);
  assert.doesNotMatch(err.message, /\n/);
  return err.message;
}

const KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // 00 01 … 1f

Deno.test("formatKey and parseKey: one line of base64 that holds the 32 bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
      const text = formatKey(key);
      assert.match(text, /^[A-Za-z0-9+/]{43}=\n$/);
      assert.deepEqual(parseKey(text), key);
      assert.deepEqual(parseKey(text.trimEnd()), key, "no newline");
      assert.deepEqual(parseKey(text.trimEnd() + "\r\n"), key, "CRLF");
    }),
  );
  assert.equal(
    formatKey(Uint8Array.from({ length: 32 }, (_, i) => i)),
    `${KEY}\n`,
  );
  assert.throws(() => formatKey(new Uint8Array(31)), RangeError);
  assert.equal(generateKey().length, 32);
  assert.notDeepEqual(generateKey(), generateKey());
});

Deno.test("parseKey says in one line what is wrong with a key file and how to make a new one", () => {
  const cases: [string, RegExp][] = [
    ["", /^Key file k is empty; make a new key with deno task keygen FILE/],
    ["\n", /is empty/],
    [
      "AAECAwQFBgcICQoLDA0ODw==\n",
      /^Key file k is too short: it holds 16 bytes, a key is 32 \(44 base64 characters\); make a new key with deno task keygen FILE and give it to both ends$/,
    ],
    [
      `${KEY.slice(0, -1)}A${"A".repeat(20)}\n`,
      /^Key file k is too long: it holds 48 bytes, a key is 32/,
    ],
    [`${KEY}\n${KEY}\n`, /^Key file k is malformed: it has more than one line/],
    [
      "00".repeat(32) + "\n",
      /^Key file k is malformed: it holds hex, a key file holds base64/,
    ],
    [
      `${KEY.slice(0, 10)}-${KEY.slice(11)}\n`,
      /^Key file k is malformed: "-" at column 11 is not base64/,
    ],
    [
      `${KEY.slice(0, -1)}\n`,
      /^Key file k is malformed: its base64 is cut short or badly padded/,
    ],
    ["=AAA\n", /badly padded/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseKey(text, "k"), (err: Error) => {
      assert.match(err.message, pattern, JSON.stringify(text));
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  }
});

Deno.test("writeKeyFile writes mode 0600 and never replaces an existing file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/stream.key`;
    await writeKeyFile(path);
    const text = await Deno.readTextFile(path);
    assert.match(text, /^[A-Za-z0-9+/]{43}=\n$/);
    if (posix) assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    await assert.rejects(
      () => writeKeyFile(path),
      /^Error: Key file .+stream\.key already exists; not replacing it/,
    );
    assert.equal(await Deno.readTextFile(path), text);
    await assert.rejects(
      () => writeKeyFile(`${dir}/missing/stream.key`),
      /Cannot write key file .+: its directory does not exist$/,
    );
  });
});

Deno.test("readKeyFile reads what writeKeyFile wrote, and warns as ssh does when others may read it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/stream.key`;
    const key = generateKey();
    await writeKeyFile(path, key);
    const warnings: string[] = [];
    const warn = (line: string) => warnings.push(line);
    assert.deepEqual(await readKeyFile(path, { warn }), key);
    assert.deepEqual(warnings, []);
    if (!posix) return;
    await Deno.chmod(path, 0o644);
    assert.deepEqual(await readKeyFile(path, { warn }), key);
    assert.deepEqual(warnings, [
      `warning: permissions 0644 for ${path} are too open; chmod 600 ${path}`,
    ]);
    await Deno.chmod(path, 0o620);
    await readKeyFile(path, { warn });
    assert.match(warnings[1]!, /^warning: permissions 0620 for /);
  });
});

Deno.test("readKeyFile gives one line for a missing file, a directory, a bad key and an oversized file", async () => {
  await withDir(async (dir) => {
    assert.equal(
      await readError(`${dir}/nope.key`),
      `Cannot read key file ${dir}/nope.key: no such file; make one with: deno task keygen ${dir}/nope.key`,
    );
    assert.match(
      await readError(dir),
      /^Cannot read key file .+: it is not a regular file; pass the key file itself/,
    );
    await writeText(`${dir}/short.key`, "AAECAwQFBgcICQoLDA0ODw==\n");
    assert.match(
      await readError(`${dir}/short.key`),
      /^Key file .+short\.key is too short: it holds 16 bytes/,
    );
    await writeText(`${dir}/big.key`, "A".repeat(5000));
    assert.match(
      await readError(`${dir}/big.key`),
      /^Key file .+big\.key is too long: 5000 bytes, a key file is one line of 44 characters/,
    );
    await writeText(
      `${dir}/binary.key`,
      new Uint8Array([0xff, 0xfe, 0x00, 0x41]),
    );
    assert.match(
      await readError(`${dir}/binary.key`),
      /^Key file .+binary\.key is malformed: it is not text/,
    );
    await writeText(`${dir}/empty.key`, "");
    assert.match(
      await readError(`${dir}/empty.key`),
      /^Key file .+empty\.key is empty/,
    );
    await writeText(`${dir}/file`, `${KEY}\n`);
    assert.match(
      await readError(`${dir}/file/sub.key`),
      /^Cannot read key file .+file\/sub\.key: /,
    );
    assert.match(await readError(""), /^Key file path is empty/);
  });
});

Deno.test("loadKey: --key-file wins over UDPIMG_KEY_FILE, an empty variable is unset, neither means unsealed", async () => {
  await withDir(async (dir) => {
    const flagKey = generateKey(), envKey = generateKey();
    await writeKeyFile(`${dir}/flag.key`, flagKey);
    await writeKeyFile(`${dir}/env.key`, envKey);
    const both = await loadKey({
      keyFile: `${dir}/flag.key`,
      envKeyFile: `${dir}/env.key`,
    });
    assert.deepEqual(both, {
      key: flagKey,
      path: `${dir}/flag.key`,
      from: "--key-file",
    });
    const env = await loadKey({
      keyFile: undefined,
      envKeyFile: `${dir}/env.key`,
    });
    assert.deepEqual(env, {
      key: envKey,
      path: `${dir}/env.key`,
      from: KEY_FILE_ENV,
    });
    assert.equal(await loadKey({ envKeyFile: "" }), undefined);
    assert.equal(await loadKey({}), undefined);
    await assert.rejects(
      () => loadKey({ envKeyFile: `${dir}/gone.key` }),
      new RegExp(
        `^Error: Cannot read key file ${dir}/gone\\.key \\(from UDPIMG_KEY_FILE\\): no such file; make one with: deno task keygen ${dir}/gone\\.key$`,
      ),
    );
    await assert.rejects(
      () => loadKey({ keyFile: "", envKeyFile: `${dir}/env.key` }),
      /^Error: Key file path from --key-file is empty/,
    );
  });
});

Deno.test("loadKeyFlag reads UDPIMG_KEY_FILE when the flag is absent", async () => {
  await withDir(async (dir) => {
    const key = generateKey();
    await writeKeyFile(`${dir}/env.key`, key);
    const before = Deno.env.get(KEY_FILE_ENV);
    Deno.env.set(KEY_FILE_ENV, `${dir}/env.key`);
    try {
      const { values } = parseFlags([], { ...KEY_FILE_OPTION });
      assert.deepEqual((await loadKeyFlag(values["key-file"]))?.key, key);
    } finally {
      if (before === undefined) Deno.env.delete(KEY_FILE_ENV);
      else Deno.env.set(KEY_FILE_ENV, before);
    }
  });
});

Deno.test("deno task keygen FILE writes a key file, refuses to overwrite it, and fails in one line", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/stream.key`;
    {
      await using child = script("lib/cli/keygen.ts", [path]);
      const status = await child.exit();
      assert.equal(status.code, 0, child.stderr.join("\n"));
      assert.deepEqual(child.stdout, [
        `wrote a new 256-bit key to ${path} (mode 0600); use it on both ends with --key-file ${path}`,
      ]);
    }
    const text = await Deno.readTextFile(path);
    assert.equal((await readKeyFile(path)).length, 32);
    if (posix) assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    for (
      const [args, code, pattern] of [
        [[path], 1, /^error: Key file .+ already exists; not replacing it/],
        [
          [],
          2,
          /^error: expected one FILE to write the key to, got 0: deno task keygen FILE$/,
        ],
        [["a.key", "b.key"], 2, /^error: expected one FILE/],
        [["--force", path], 2, /^error: .*--force.*; see --help$/],
      ] as const
    ) {
      await using child = script("lib/cli/keygen.ts", [...args]);
      const status = await child.exit();
      assert.equal(status.code, code, child.stderr.join("\n"));
      assert.equal(child.stderr.length, 1, child.stderr.join("\n"));
      assert.match(child.stderr[0]!, pattern);
    }
    assert.equal(await Deno.readTextFile(path), text);
  });
});

Deno.test("readKeyFile says so in one line when the key file may not be read", async () => {
  // As root, no file mode keeps a file from us; Deno's permissions can.
  await withDir(async (dir) => {
    const path = `${dir}/stream.key`;
    await writeKeyFile(path);
    const probe = `${dir}/probe.ts`;
    const module = new URL("../lib/crypto/key_file.ts", import.meta.url).href;
    await Deno.writeTextFile(
      probe,
      `import { readKeyFile } from "${module}";
await readKeyFile(${
        JSON.stringify(path)
      }).catch((err) => console.log(err.message));`,
    );
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--no-config", "--deny-read", probe],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.match(
      new TextDecoder().decode(stdout),
      /^Cannot read key file .+stream\.key: Deno may not access it \(run with -P or --allow-read\); fix its permissions, or make a new key with deno task keygen FILE\n$/,
    );
  });
});

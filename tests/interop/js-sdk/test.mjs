// The official JavaScript Azure SDK (@azure/identity) through `azmi serve`,
// which fetches from `azmi emulator`. ./run starts it with AZMI (the
// binary), EMULATOR_IMDS (the emulator's IMDS URL), EMULATOR_LOG (its -v
// output: a `DEBUG request: ...` line per request it served) and TMP (a
// directory for the broker's config, keys and output, removed afterwards).
//
// This process starts the broker and runs every check in a child process of
// its own (`node test.mjs --check NAME`), for two reasons. MSAL Node, which
// ManagedIdentityCredential calls, keeps the identity source it picked (with
// the endpoint and IDENTITY_HEADER it read from process.env) and its token
// cache in static fields, once per process, not once per credential: a
// second mode in the same process would reuse the first one's endpoint, key
// and tokens. And a child gets a clean environment: PATH, HOME and the
// mode's variables, nothing from outside.
//
// One line per check: what it asked and what it got, as claims, statuses
// and error texts. Tokens are decoded in the child and never leave it; the
// broker keys are replaced by <key> in anything printed. Exits 1 if any check
// failed.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SCOPE = "https://vault.azure.net/.default";
const OTHER_SCOPE = "https://management.azure.com/.default"; // outside every grant below
const SYSTEM_CLIENT_ID = "0d5ad0b2-33b4-4e1c-9a52-5c5b0b3d54e8"; // crates/azmi-emulator/src/demo.rs
const USER_CLIENT_ID = "a5b6c7d8-e9f0-4a1b-8c2d-3e4f5a6b7c8d"; // in the emulator, not in alpha's grant
const SERVE_CONFIG = `\
[[tenant]]
name = "alpha"
key_file = "alpha.key"
identities = ["system-assigned"]
resources = ["https://vault.azure.net"]

[anonymous]
identities = ["system-assigned"]
resources = ["https://vault.azure.net"]
`;
const SERVE_START_MS = 60_000; // its first start compiles the sandboxed component (then cached)
const SERVE_STOP_MS = 30_000;
const CHECK_MS = 60_000;

if (process.argv[2] === "--check") {
  await child(process.argv[3]);
} else {
  await main();
}

// ---- the child: one credential scenario, one JSON line on stdout ----------

function claims(token) {
  const parts = token.split(".");
  assert.equal(parts.length, 3, "the token is not JWT-shaped (value withheld)");
  const { aud, appid } = JSON.parse(Buffer.from(parts[1], "base64url").toString());
  return { aud, appid };
}

async function child(name) {
  // Imported here, after the parent set this process's environment.
  const { ManagedIdentityCredential } = await import("@azure/identity");
  const scenarios = {
    // getToken twice on one credential: the second from MSAL's cache.
    twice: async () => {
      const credential = new ManagedIdentityCredential();
      const first = await credential.getToken(SCOPE);
      const second = await credential.getToken(SCOPE);
      return [first, second];
    },
    token: async () => [await new ManagedIdentityCredential().getToken(SCOPE)],
    "client-id": async () => [await new ManagedIdentityCredential({ clientId: USER_CLIENT_ID }).getToken(SCOPE)],
    audience: async () => [await new ManagedIdentityCredential().getToken(OTHER_SCOPE)],
  };
  let result;
  try {
    const tokens = await scenarios[name]();
    result = {
      ok: true,
      tokens: tokens.map((t) => ({
        ...claims(t.token),
        tokenType: t.tokenType,
        expiresOnTimestamp: t.expiresOnTimestamp,
        refreshAfterTimestamp: t.refreshAfterTimestamp,
        sameAsFirst: t.token === tokens[0].token,
      })),
    };
  } catch (e) {
    result = {
      ok: false,
      error: {
        name: e?.name,
        message: String(e?.message ?? e),
        // MSAL's ServerError, with the HTTP status it got.
        cause: e?.cause && { name: e.cause.name, message: String(e.cause.message), status: e.cause.status, errorCode: e.cause.errorCode },
      },
    };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---- the parent: the broker, the checks ------------------------------------

async function main() {
  const { AZMI, EMULATOR_IMDS, EMULATOR_LOG, TMP } = process.env;
  // Nothing here may name anything but loopback (without an override the
  // SDK and the broker would ask 169.254.169.254).
  assert.match(EMULATOR_IMDS ?? "", /^http:\/\/127\.0\.0\.1:\d+$/, "EMULATOR_IMDS");
  assert.ok(AZMI && EMULATOR_LOG && TMP, "AZMI, EMULATOR_LOG and TMP are set by ./run");

  const alphaKey = randomBytes(32).toString("hex");
  const wrongKey = randomBytes(32).toString("hex");
  const keyPath = join(TMP, "alpha.key");
  writeFileSync(keyPath, `${alphaKey}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(keyPath, 0o600);
  const config = join(TMP, "serve.toml");
  writeFileSync(config, SERVE_CONFIG);
  const redact = (text) => String(text).replaceAll(alphaKey, "<alpha key>").replaceAll(wrongKey, "<wrong key>");

  // The broker, with only PATH, HOME and its identity source.
  const outPath = join(TMP, "serve.out");
  const errPath = join(TMP, "serve.err");
  const [out, err] = [openSync(outPath, "w"), openSync(errPath, "w")];
  const broker = spawn(AZMI, ["-v", "serve", "--config", config, "--listen", "127.0.0.1:0"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, AZURE_POD_IDENTITY_AUTHORITY_HOST: EMULATOR_IMDS },
    stdio: ["ignore", out, err],
  });
  closeSync(out);
  closeSync(err);
  let exited = null; // [code, signal] once it has exited
  const exit = new Promise((resolve) => broker.on("exit", (code, signal) => resolve((exited = [code, signal]))));
  process.on("exit", () => exited || broker.kill("SIGKILL")); // a crash here leaves no broker behind
  const brokerOutput = () => redact(readFileSync(outPath, "utf8") + readFileSync(errPath, "utf8"));

  const url = await listening();
  console.log(`broker: ${url} (AZURE_POD_IDENTITY_AUTHORITY_HOST=${EMULATOR_IMDS}, the emulator)`);

  async function listening() {
    const deadline = Date.now() + SERVE_START_MS;
    while (Date.now() < deadline && !exited) {
      const found = [...readFileSync(outPath, "utf8").matchAll(/^azmi serve: listening on (http:\/\/127\.0\.0\.1:\d+)$/gm)];
      if (found.length > 1) throw new Error(`azmi serve printed ${found.length} listen lines for one listener`);
      if (found.length === 1) return found[0][1];
      await new Promise((r) => setTimeout(r, 100));
    }
    const why = exited ? `exit ${exited.join("/")} before its listen line` : `no listen line within ${SERVE_START_MS} ms`;
    throw new Error(`azmi serve: ${why}; its output:\n${brokerOutput()}`);
  }

  // Counters: the broker's /metrics samples and the emulator's request lines.
  async function metrics() {
    const text = await (await fetch(`${url}/metrics`)).text();
    const samples = text.split("\n").filter((line) => line && !line.startsWith("#"));
    return Object.fromEntries(samples.map((line) => [line.slice(0, line.lastIndexOf(" ")), Number(line.slice(line.lastIndexOf(" ") + 1))]));
  }
  const answered = (m, tenant, code) => m[`azmi_serve_token_requests_total{tenant="${tenant}",code="${code}"}`] ?? 0;
  const REFUSED_KEY = 'azmi_serve_refused_total{reason="identity_header"}';
  const emulatorRequests = () => readFileSync(EMULATOR_LOG, "utf8").split("\n").filter((l) => l.startsWith("DEBUG request: ")).length;

  // Runs scenario `name` in a child with `env`; returns its result and what
  // the counters gained meanwhile.
  async function run(name, env) {
    const [m0, e0] = [await metrics(), emulatorRequests()];
    const started = Date.now();
    const proc = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--check", name], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      encoding: "utf8",
      timeout: CHECK_MS,
    });
    const ms = Date.now() - started;
    const [m1, e1] = [await metrics(), emulatorRequests()];
    const last = proc.stdout.trim().split("\n").pop();
    let result;
    try {
      result = JSON.parse(last);
    } catch {
      throw new Error(`check ${name}: no result (status ${proc.status}, signal ${proc.signal}); stderr:\n${redact(proc.stderr)}`);
    }
    const gained = (tenant, code) => answered(m1, tenant, code) - answered(m0, tenant, code);
    return { result, ms, gained, refusedKeys: (m1[REFUSED_KEY] ?? 0) - (m0[REFUSED_KEY] ?? 0), emulator: e1 - e0 };
  }

  const imds = { AZURE_POD_IDENTITY_AUTHORITY_HOST: url };
  const appService = (key) => ({ IDENTITY_ENDPOINT: `${url}/msi/token`, IDENTITY_HEADER: key });

  let failures = 0;
  function check(label, body) {
    try {
      const line = body();
      console.log(`ok   ${label}: ${line}`);
    } catch (e) {
      failures++;
      console.log(`FAIL ${label}: ${redact(e?.message ?? e)}`);
    }
  }
  const tokenLine = (t) => {
    const hours = ((t.expiresOnTimestamp - Date.now()) / 3_600_000).toFixed(2);
    const refresh = t.refreshAfterTimestamp ? `, refreshAfter in ${((t.refreshAfterTimestamp - Date.now()) / 3_600_000).toFixed(2)} h` : "";
    return `aud=${t.aud} appid=${t.appid} ${t.tokenType}, expiresOnTimestamp in ${hours} h${refresh}`;
  };
  function assertToken(t, appid) {
    assert.equal(t.aud, "https://vault.azure.net", `aud ${t.aud}`);
    assert.equal(t.appid, appid, `appid ${t.appid}`);
    assert.equal(t.tokenType, "Bearer");
    // The broker sends expires_on as a digit string; an SDK that ignored it
    // would fall back to about now.
    const now = Date.now();
    assert.ok(t.expiresOnTimestamp > now + 3_600_000, `expiresOnTimestamp ${t.expiresOnTimestamp} is not an hour ahead of ${now}`);
    assert.ok(t.expiresOnTimestamp < now + 25 * 3_600_000, `expiresOnTimestamp ${t.expiresOnTimestamp} is more than 25 h ahead`);
  }
  const failed = (r) => {
    assert.equal(r.result.ok, false, `it got a token: ${r.result.ok && tokenLine(r.result.tokens[0])}`);
    const { name, message, cause } = r.result.error;
    // The cause's message is the same text again, mostly: only what differs.
    const about = cause && [cause.name, cause.status && `status ${cause.status}`, !message.includes(cause.message) && cause.message];
    return `${name}: ${message}${cause ? ` (cause ${about.filter(Boolean).join(", ")})` : ""}`;
  };
  const status = (r) => r.result.error?.cause?.status;
  const counts = (r, tenant, code) => `broker ${tenant} ${code}s +${r.gained(tenant, code)}, emulator requests +${r.emulator}, ${r.ms} ms`;

  // 1 and 2: IMDS mode, the anonymous grant; twice in one process.
  const r1 = await run("twice", imds);
  check("1 IMDS mode: new ManagedIdentityCredential().getToken(vault)", () => {
    assert.ok(r1.result.ok, r1.result.ok || failed(r1));
    assertToken(r1.result.tokens[0], SYSTEM_CLIENT_ID);
    // The broker's cache is cold: this one came from the emulator.
    assert.equal(r1.emulator, 1, "the emulator's requests (a cold broker fetches once)");
    return `${tokenLine(r1.result.tokens[0])}; ${counts(r1, "anonymous", 200)}`;
  });
  check("2 IMDS mode: the same getToken again in that process", () => {
    assert.ok(r1.result.ok, "no tokens");
    const second = r1.result.tokens[1];
    assert.ok(second.sameAsFirst, "a different token the second time");
    assert.equal(r1.gained("anonymous", 200), 1, `the broker answered ${r1.gained("anonymous", 200)} times for two getToken calls`);
    return `the same token (MSAL's cache), and the broker answered once for both calls`;
  });

  // 3: App Service mode with alpha's key. (The broker has one cache for
  // every tenant: this is the token it fetched for check 1, and the emulator
  // sees no request.)
  const r2 = await run("token", appService(alphaKey));
  check("3 App Service mode, alpha's key: new ManagedIdentityCredential().getToken(vault)", () => {
    assert.ok(r2.result.ok, r2.result.ok || failed(r2));
    assertToken(r2.result.tokens[0], SYSTEM_CLIENT_ID);
    assert.equal(r2.gained("alpha", 200), 1, "the broker's 200 answers to alpha");
    return `${tokenLine(r2.result.tokens[0])}; ${counts(r2, "alpha", 200)}`;
  });

  // 4: an identity outside alpha's grant: the broker's own refusal.
  const r3 = await run("client-id", appService(alphaKey));
  check(`4 App Service mode, alpha's key: ManagedIdentityCredential({clientId: ${USER_CLIENT_ID}}).getToken(vault)`, () => {
    const text = failed(r3);
    assert.equal(status(r3), 400, "the status MSAL saw");
    assert.match(text, /Identity not found/);
    assert.equal(r3.emulator, 0, "the broker asked the emulator for a refused identity");
    assert.equal(r3.gained("alpha", 400), 1, "the broker's 400 answers to alpha");
    return `${text}; ${counts(r3, "alpha", 400)}`;
  });

  // 5: a key no tenant has.
  const r4 = await run("token", appService(wrongKey));
  check("5 App Service mode, a wrong key: new ManagedIdentityCredential().getToken(vault)", () => {
    const text = failed(r4);
    assert.equal(status(r4), 401, "the status MSAL saw");
    assert.equal(r4.emulator, 0, "the broker asked the emulator for an unknown key");
    assert.equal(r4.refusedKeys, 1, "the broker's refusals of a key");
    return `${text}; broker refused_total{reason="identity_header"} +${r4.refusedKeys}, emulator requests +${r4.emulator}, ${r4.ms} ms`;
  });

  // The same refusals in IMDS mode (the anonymous grant).
  const r6 = await run("client-id", imds);
  check(`6 IMDS mode: ManagedIdentityCredential({clientId: ${USER_CLIENT_ID}}).getToken(vault)`, () => {
    const text = failed(r6);
    assert.equal(status(r6), 400, "the status MSAL saw");
    assert.match(text, /Identity not found/);
    assert.equal(r6.gained("anonymous", 400), 1, "the broker's 400 answers to anonymous");
    assert.equal(r6.emulator, 0, "the broker asked the emulator for a refused identity");
    return `${text}; ${counts(r6, "anonymous", 400)}`;
  });
  const r7 = await run("audience", imds);
  check(`7 IMDS mode: new ManagedIdentityCredential().getToken(${OTHER_SCOPE})`, () => {
    const text = failed(r7);
    assert.equal(status(r7), 400, "the status MSAL saw");
    assert.match(text, /rule `resources`/);
    assert.equal(r7.gained("anonymous", 400), 1, "the broker's 400 answers to anonymous");
    assert.equal(r7.emulator, 0, "the broker asked the emulator for a refused audience");
    return `${text}; ${counts(r7, "anonymous", 400)}`;
  });

  // SIGTERM: the broker finishes what is in flight and exits 0.
  const stopping = Date.now();
  broker.kill("SIGTERM");
  const timer = setTimeout(() => broker.kill("SIGKILL"), SERVE_STOP_MS);
  const [code, signal] = await exit;
  clearTimeout(timer);
  check("8 SIGTERM to the broker", () => {
    assert.ok(code === 0 && signal === null, `exit ${code}, signal ${signal}; its output:\n${brokerOutput()}`);
    return `exit 0 after ${Date.now() - stopping} ms`;
  });

  console.log(failures ? `${failures} check(s) FAILED` : "all checks passed");
  process.exitCode = failures ? 1 : 0;
}

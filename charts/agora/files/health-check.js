// `helm test` check: asks every Agora service for its health and exits non-zero unless all answer.
// gRPC services: grpc.health.v1.Health/Check with service "" (overall), which must say SERVING.
// HTTP services: GET <url> must answer 2xx. Runs with `node` from any Agora service image, whose
// node_modules carries @grpc/grpc-js; the protobuf messages are tiny, so they are encoded by hand.
// Usage: node health-check.js grpc://catalog:50051 http://gateway:8080/readyz …

const path = require("node:path");

const SERVING = 1;
const STATUS_NAMES = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];
const deadlineMs = () => Number(process.env.HEALTH_DEADLINE_MS || 5000);
const attempts = () => Number(process.env.HEALTH_ATTEMPTS || 5);

function loadGrpc() {
  const paths = [process.cwd(), "/app", path.join(__dirname, "..")];
  return require(require.resolve("@grpc/grpc-js", { paths }));
}

/** HealthCheckResponse { ServingStatus status = 1; } → the status number (0 when absent). */
function decodeStatus(buf) {
  let status = 0;
  for (let i = 0; i < buf.length; ) {
    const tag = buf[i++];
    if (tag === 0x08) {
      let value = 0;
      let shift = 0;
      for (;;) {
        const b = buf[i++];
        value |= (b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      status = value;
    } else {
      throw new Error(`unexpected field tag ${tag} in HealthCheckResponse`);
    }
  }
  return status;
}

function checkGrpc(grpc, target) {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      () => Buffer.alloc(0), // HealthCheckRequest { service: "" } encodes to nothing
      (buf) => buf,
      {},
      { deadline: Date.now() + deadlineMs() },
      (err, buf) => {
        client.close();
        if (err) return resolve({ ok: false, detail: `${err.code} ${err.details || err.message}` });
        const status = decodeStatus(buf);
        resolve({ ok: status === SERVING, detail: STATUS_NAMES[status] || String(status) });
      },
    );
  });
}

async function checkHttp(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(deadlineMs()) });
    return { ok: res.ok, detail: `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, detail: String(err?.message ? err.message : err) };
  }
}

async function check(target, grpc) {
  for (let attempt = 1; ; attempt++) {
    const result = target.startsWith("grpc://") ? await checkGrpc(grpc, target.slice(7)) : await checkHttp(target);
    if (result.ok || attempt >= attempts()) return result;
    await new Promise((r) => setTimeout(r, 1000 * attempt));
  }
}

async function main(targets) {
  if (targets.length === 0) {
    console.error("usage: health-check.js grpc://HOST:PORT|http://HOST:PORT/PATH ...");
    return 2;
  }
  const grpc = targets.some((t) => t.startsWith("grpc://")) ? loadGrpc() : undefined;
  const results = await Promise.all(targets.map((t) => check(t, grpc)));
  let failed = 0;
  targets.forEach((t, i) => {
    const r = results[i];
    if (!r.ok) failed++;
    console.log(`${r.ok ? "ok  " : "FAIL"} ${t} ${r.detail}`);
  });
  console.log(`${targets.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}

module.exports = { decodeStatus, main };

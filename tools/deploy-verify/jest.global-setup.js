// Runs once before the test files: makes sure `helm` and the Tiltfile runner work, so parallel workers do
// not all try to build the repository's stand-ins (tools/helm-render, tools/tilt-render: first use builds
// them with Debian's Go) at once.
const { execFileSync, spawnSync } = require("node:child_process");
const { resolve } = require("node:path");

module.exports = () => {
  const tilt = process.env.TILT_RENDER || resolve(__dirname, "../tilt-render/tilt-render");
  // Builds it (the Tiltfile's own errors are left to the tests that run it).
  spawnSync(tilt, [resolve(__dirname, "../../Tiltfile")], { stdio: "ignore" });
  const real = spawnSync("helm", ["version", "--short"], { encoding: "utf8" });
  if (real.status === 0 && !/render-standin/.test(real.stdout)) return;
  const helm = process.env.HELM || resolve(__dirname, "../helm-render/helm");
  execFileSync(helm, ["version"], { stdio: "inherit" });
};

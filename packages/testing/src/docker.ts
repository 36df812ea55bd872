/**
 * True when a Docker engine answers (testcontainers can then start Postgres or NATS). Checked once;
 * no engine runs on the machines Agora is built on, so this is the last resort.
 */
let dockerAvailable: Promise<boolean> | undefined;

export function isDockerAvailable(): Promise<boolean> {
  dockerAvailable ??= (async () => {
    try {
      const { getContainerRuntimeClient } = await import("testcontainers");
      await getContainerRuntimeClient();
      return true;
    } catch {
      return false;
    }
  })();
  return dockerAvailable;
}

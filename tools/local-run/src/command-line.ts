import { resolve } from "node:path";

/** What `./agora up` was asked to do. */
export interface UpOptions {
  reset: boolean;
  postgresUrl?: string;
  natsUrl?: string;
  otelEndpoint?: string;
  only?: string[];
  dataDir: string;
  help: boolean;
}

export const upUsage = `Usage: ./agora up [options]

  --reset              start clean: delete the local data (embedded databases, JetStream store,
                       and with --postgres the agora_* databases)
  --postgres URL       give every service its own database on this Postgres server instead of PGlite
                       (e.g. postgres://postgres@127.0.0.1:5432/postgres); also AGORA_POSTGRES_URL
  --nats URL           use this NATS JetStream server instead of starting nats-server; also NATS_URL
  --otel URL           export traces over OTLP/gRPC (e.g. http://127.0.0.1:4317); also OTEL_EXPORTER_OTLP_ENDPOINT
  --only a,b           run only these services
  --data DIR           where data is kept between runs (default .agora/ in the repository)

  <SERVICE>_DATABASE_URL  a database of its own for one service (e.g. ORDER_DATABASE_URL=postgres://…/orders);
                       it wins over --postgres and the embedded database for that service`;

/** Parses `./agora up` arguments; throws an Error naming the bad argument. */
export function parseUpArguments(argv: readonly string[], env: NodeJS.ProcessEnv, repoRoot: string): UpOptions {
  const options: UpOptions = {
    reset: false,
    postgresUrl: env.AGORA_POSTGRES_URL || undefined,
    natsUrl: env.NATS_URL || undefined,
    otelEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined,
    dataDir: resolve(repoRoot, ".agora"),
    help: false,
  };
  const value = (index: number, flag: string) => {
    const given = argv[index + 1];
    if (!given || given.startsWith("--")) throw new Error(`${flag} needs a value`);
    return given;
  };
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    switch (argument) {
      case "--reset":
        options.reset = true;
        break;
      case "--postgres":
        options.postgresUrl = value(i++, argument);
        if (!/^postgres(ql)?:\/\//.test(options.postgresUrl)) throw new Error("--postgres needs a postgres:// URL");
        break;
      case "--nats":
        options.natsUrl = value(i++, argument);
        break;
      case "--otel":
        options.otelEndpoint = value(i++, argument);
        break;
      case "--only":
        options.only = value(i++, argument).split(",").filter(Boolean);
        break;
      case "--data":
        options.dataDir = resolve(value(i++, argument));
        break;
      case "--help":
      case "-h":
        options.help = true;
        break;
      default:
        throw new Error(`unknown argument ${argument}`);
    }
  }
  return options;
}

export * from "./event-probe";
export * from "./free-port";
export * from "./otlp-receiver";
export * from "./reflection-client";
export * from "./service-harness";
export * from "./service-process";
export * from "./test-database";
export * from "./test-nats";

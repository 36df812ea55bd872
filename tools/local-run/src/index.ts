export * from "./banner";
export * from "./command-line";
export * from "./local-system";
export * from "./log-lines";
export * from "./service-catalog";
export * from "./supervised-process";

import pino from "pino";

export type Logger = pino.Logger;

/** Structured JSON logs on stdout; one root logger per process, children per job. */
export function createLogger(name: string, level = "info"): Logger {
  return pino({ name, level, base: { service: name } });
}

// One JSON logger for the process (winston), to stderr so stdout stays the
// CLI's output.
import winston from "winston";

// winston's Console transport is a CommonJS class the type checker sees
// through two declarations; construct it once here.
const console = new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "http", "verbose", "debug", "silly"] });

export const logger = winston.createLogger({
  level: process.env.AGENTGATE_LOG_LEVEL ?? "info",
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
   
  transports: [console],
});

export type Logger = typeof logger;

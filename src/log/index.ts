/**
 * Logging and redaction: winston loggers whose every line is redacted, and the
 * redaction functions for error messages and anything else shown to a person.
 */
export { createLogger, LOG_LEVELS } from './logger.js';
export type { BridgeLogger, ConsoleFormat, LogFields, LoggerOptions, LogLevel } from './logger.js';
export { redact, redactValue, redactError, registerSecret, registeredSecretCount, isSensitiveKey, MIN_SECRET_LENGTH } from './redact.js';
export { Secret } from './secret.js';

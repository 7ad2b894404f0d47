/** Exit codes of every ksef-bridge command (documented in the README). */
export const EXIT = {
  /** Everything went well. */
  OK: 0,
  /** The thing checked is not valid (an invoice, a configuration), or some documents failed. */
  INVALID: 1,
  /** The command line itself is wrong (unknown command or option, missing argument). */
  USAGE: 2,
  /** ksef.ini (or another configuration file) cannot be used. */
  CONFIG: 3,
  /** KSeF (or the emulator) could not be reached or refused the request. */
  KSEF: 4,
  /** A file could not be read or written. */
  IO: 5,
  /** A bug: an unexpected error. */
  INTERNAL: 70,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

import { inspect } from 'node:util';
import { registerSecret } from './redact.js';

const MASK = '***';

/**
 * A secret value (KSeF token, password, key passphrase). It prints as `***` through
 * every path that turns a value into text (String(), template literals, JSON.stringify,
 * util.inspect / console.log) and only gives the value out through `reveal()`.
 * Constructing a Secret registers its value with the log redaction layer, so even a
 * revealed copy that ends up in a log line or error message is masked there.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
    registerSecret(value);
  }

  /** The real value: pass it only to the place that needs it (HTTP body, crypto). */
  reveal(): string {
    return this.#value;
  }

  /** True when the secret holds the empty string. */
  get isEmpty(): boolean {
    return this.#value.length === 0;
  }

  /** Compares with another secret or string without revealing either in output. */
  equals(other: Secret | string): boolean {
    return this.#value === (other instanceof Secret ? other.reveal() : other);
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  valueOf(): string {
    return MASK;
  }

  [Symbol.toPrimitive](): string {
    return MASK;
  }

  [inspect.custom](): string {
    return `Secret(${MASK})`;
  }
}

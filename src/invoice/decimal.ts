/**
 * Exact decimal arithmetic for amounts, quantities, prices and rates: a bigint of units plus a scale
 * (value = units / 10^scale). No JavaScript floating point ever touches an amount. Rounding is Polish
 * commercial rounding: half up, away from zero (0.005 -> 0.01, -0.005 -> -0.01).
 */

const POW10: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i));

export class Dec {
  private constructor(
    readonly units: bigint,
    readonly scale: number,
  ) {}

  static readonly ZERO = new Dec(0n, 0);

  static of(units: bigint, scale = 0): Dec {
    return new Dec(units, scale);
  }

  /** Parses "123", "-0.5", "+12.340"; returns undefined for anything else (no exponents, no commas). */
  static parse(text: string): Dec | undefined {
    const m = /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(text);
    if (!m) return undefined;
    const frac = m[3] ?? '';
    const units = BigInt((m[2] ?? '0') + frac);
    return new Dec(m[1] === '-' ? -units : units, frac.length);
  }

  static from(text: string): Dec {
    const d = Dec.parse(text);
    if (!d) throw new TypeError(`not a decimal: ${text}`);
    return d;
  }

  private static pow10(n: number): bigint {
    return POW10[n] ?? 10n ** BigInt(n);
  }

  private align(other: Dec): [bigint, bigint, number] {
    if (this.scale === other.scale) return [this.units, other.units, this.scale];
    if (this.scale > other.scale) return [this.units, other.units * Dec.pow10(this.scale - other.scale), this.scale];
    return [this.units * Dec.pow10(other.scale - this.scale), other.units, other.scale];
  }

  add(other: Dec): Dec {
    const [a, b, s] = this.align(other);
    return new Dec(a + b, s);
  }

  sub(other: Dec): Dec {
    const [a, b, s] = this.align(other);
    return new Dec(a - b, s);
  }

  mul(other: Dec): Dec {
    return new Dec(this.units * other.units, this.scale + other.scale);
  }

  neg(): Dec {
    return new Dec(-this.units, this.scale);
  }

  /** this / other rounded half-up (away from zero) to `scale` fraction digits. */
  div(other: Dec, scale: number): Dec {
    if (other.units === 0n) throw new RangeError('division by zero');
    // (a/10^sa) / (b/10^sb) = a*10^sb / (b*10^sa); scaled by 10^scale.
    let num = this.units * Dec.pow10(other.scale + scale);
    let den = other.units * Dec.pow10(this.scale);
    if (den < 0n) {
      num = -num;
      den = -den;
    }
    return new Dec(roundDiv(num, den), scale);
  }

  /** Rounds half-up (away from zero) to `scale` fraction digits. */
  round(scale: number): Dec {
    if (this.scale <= scale) return new Dec(this.units * Dec.pow10(scale - this.scale), scale);
    return new Dec(roundDiv(this.units, Dec.pow10(this.scale - scale)), scale);
  }

  cmp(other: Dec): number {
    const [a, b] = this.align(other);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  eq(other: Dec): boolean {
    return this.cmp(other) === 0;
  }

  isZero(): boolean {
    return this.units === 0n;
  }

  isNegative(): boolean {
    return this.units < 0n;
  }

  abs(): Dec {
    return this.units < 0n ? this.neg() : this;
  }

  /** Number of fraction digits after removing trailing zeros. */
  significantScale(): number {
    let u = this.units < 0n ? -this.units : this.units;
    let s = this.scale;
    while (s > 0 && u % 10n === 0n) {
      u /= 10n;
      s--;
    }
    return s;
  }

  /** Digits before the decimal point (0 counts as one digit). */
  integerDigits(): number {
    const u = this.units < 0n ? -this.units : this.units;
    const whole = u / Dec.pow10(this.scale);
    return whole === 0n ? 1 : whole.toString().length;
  }

  /** Fixed notation with exactly `scale` fraction digits (rounded half-up when needed); never "-0.00". */
  toFixed(scale: number): string {
    const r = this.round(scale);
    const neg = r.units < 0n;
    const digits = (neg ? -r.units : r.units).toString().padStart(scale + 1, '0');
    const body = scale === 0 ? digits : `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
    return neg ? `-${body}` : body;
  }

  /** Shortest exact notation with at least `minScale` fraction digits. */
  toString(minScale = 0): string {
    return this.toFixed(Math.max(minScale, this.significantScale()));
  }
}

function roundDiv(num: bigint, den: bigint): bigint {
  // den > 0
  const q = num / den;
  const r = num % den;
  if (r === 0n) return q;
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice >= den) return num < 0n ? q - 1n : q + 1n;
  return q;
}

/** Sum of decimals (zero for an empty list). */
export function sum(values: Iterable<Dec>): Dec {
  let total = Dec.ZERO;
  for (const v of values) total = total.add(v);
  return total;
}

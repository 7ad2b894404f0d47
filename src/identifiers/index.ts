/**
 * Polish tax identifiers shared by the configuration and the invoice rules. (The KSeF emulator keeps its own copy on
 * purpose: it is our test peer, and a bug shared by both sides would hide itself.)
 */

const NIP_WEIGHTS = [6, 5, 7, 2, 3, 4, 5, 6, 7] as const;

/** NIP without separators and without a "PL" prefix ("PL 526-104-08-28" -> "5261040828"); does not validate. */
export function normalizeNip(nip: string): string {
  return nip.replace(/[\s-]/g, '').replace(/^PL/i, '');
}

/**
 * The check digit a NIP with these first nine digits must end with, or undefined when no valid NIP starts this way
 * (the weighted sum mod 11 is 10). `nineDigits` must be nine digits.
 */
export function nipCheckDigit(nineDigits: string): number | undefined {
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(nineDigits[i]) * NIP_WEIGHTS[i]!;
  const check = sum % 11;
  return check === 10 ? undefined : check;
}

/** True when `nip` is exactly 10 digits with a valid mod-11 checksum (weights 6,5,7,2,3,4,5,6,7). */
export function isValidNip(nip: string): boolean {
  return /^\d{10}$/.test(nip) && nipCheckDigit(nip) === Number(nip[9]);
}

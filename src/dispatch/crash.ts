/**
 * Crash points for the crash-safety tests: `KSEF_BRIDGE_CRASH_AT=<point>` (or `<point>@<n>` for the n-th time
 * the point is reached) makes the process SIGKILL itself there, as a power cut would. Unset: no effect.
 */
const counts = new Map<string, number>();

export type CrashPoint = (point: string) => void;

/** Reads KSEF_BRIDGE_CRASH_AT once; returns a no-op when it is not set. */
export function envCrashPoint(env: Readonly<Record<string, string | undefined>> = process.env): CrashPoint {
  const spec = env.KSEF_BRIDGE_CRASH_AT?.trim();
  if (!spec) return () => {};
  const at = spec.lastIndexOf('@');
  const target = at > 0 ? spec.slice(0, at) : spec;
  const nth = at > 0 ? Math.max(1, Number(spec.slice(at + 1)) || 1) : 1;
  return (point: string) => {
    if (point !== target) return;
    const n = (counts.get(point) ?? 0) + 1;
    counts.set(point, n);
    if (n === nth) process.kill(process.pid, 'SIGKILL');
  };
}

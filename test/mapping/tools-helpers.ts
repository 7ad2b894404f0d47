/** Small re-exports for the tool tests. */
export { compileMapping, runMappingTests } from '../../src/mapping/index.js';
import { subsetDiff } from '../../src/mapping/testing.js';

export function subsetDiffForTests(expected: unknown, actual: unknown): string[] {
  const out: string[] = [];
  subsetDiff(expected, actual, '', out);
  return out;
}

/** Character offset -> 1-based line and column, for parsers that work on a whole string. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    let i = text.indexOf('\n');
    while (i !== -1) {
      this.starts.push(i + 1);
      i = text.indexOf('\n', i + 1);
    }
  }

  locate(offset: number): { line: number; column: number } {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - s[lo]! + 1 };
  }
}

/** A fields object without a prototype: source names such as "__proto__" are plain keys. */
export function newFields<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

import { ConfigError } from '../errors/index.js';

/**
 * Every problem found while loading ksef.ini, reported together. `problems` holds one
 * ConfigError per problem (each with file, line, field = key, value found, allowed).
 */
export class ConfigLoadError extends ConfigError {
  readonly problems: readonly ConfigError[];

  constructor(file: string, problems: readonly ConfigError[]) {
    const first = problems[0];
    const list = problems.map((p) => `  - ${p.describe().replace(/\n/g, '\n    ')}`).join('\n');
    super(
      'CONFIG_INVALID',
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the configuration:\n${list}`,
      { file, line: first?.context.line, field: first?.context.field, details: { count: problems.length } },
      { hint: 'Fix each line listed; ksef.ini.example documents every key.' },
    );
    this.problems = problems;
  }

  /** The message already names every location; describe() adds only the code and hint. */
  override describe(): string {
    return `${this.message} [${this.code}]${this.hint ? `\n  hint: ${this.hint}` : ''}`;
  }
}

/** One broken rule in an environment's configuration. */
export interface ConfigProblem {
  /** The config field at fault, as the user would name it (`domain`, `api.throttleBurst`). */
  readonly field: string;
  /** The rule it broke, phrased as what to change. */
  readonly rule: string;
}

/**
 * Thrown when an environment's configuration is invalid. The message lists every problem, one per
 * line, each naming its field and rule, so a single failed synth tells the user everything to fix.
 */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(environmentName: string, problems: readonly ConfigProblem[]) {
    const lines = problems.map((problem) => `  - ${problem.field}: ${problem.rule}`);
    super(`Invalid Nearstream config for environment '${environmentName}':\n${lines.join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The rule every count and size in the config follows. */
export function positiveWholeNumberProblems(field: string, value: number): ConfigProblem[] {
  return Number.isInteger(value) && value > 0 ? [] : [{ field, rule: `must be a positive whole number (got ${value})` }];
}

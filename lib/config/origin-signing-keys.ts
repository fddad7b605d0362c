import { ConfigProblem } from './config-error';

/** What a user may say about the origin tier's signing keys. */
export interface OriginKeyInput {
  /** Origin signing key generations the distribution trusts; `[1]` unless given. */
  readonly originKeyGenerations?: readonly number[];
  /** The generation that signs; the oldest trusted one unless given, so trusting a new one changes nothing else. */
  readonly originKeyActive?: number;
}

/**
 * The CloudFront key pairs that sign origin-tier URLs, by generation. A rotation overlaps old and
 * new: trust the new generation, make it active, and retire the old one once its URLs have expired.
 */
export interface OriginSigningKeySettings {
  /** Generations whose public keys the distribution's key group trusts: one, or two while rotating. */
  readonly trustedGenerations: readonly number[];
  /** The generation the play functions sign with; one of `trustedGenerations`. */
  readonly activeGeneration: number;
}

export function originSigningKeysOf(input: OriginKeyInput): OriginSigningKeySettings {
  const trustedGenerations = input.originKeyGenerations ?? [1];
  return { trustedGenerations, activeGeneration: input.originKeyActive ?? Math.min(...trustedGenerations) };
}

export function originKeyProblems(input: OriginKeyInput): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const generations = input.originKeyGenerations;
  if (generations !== undefined) {
    const notWhole = generations.filter((generation) => !(Number.isInteger(generation) && generation > 0));
    if (notWhole.length > 0) {
      problems.push({ field: 'originKeyGenerations', rule: `must be positive whole numbers (got ${notWhole.join(', ')})` });
    }
    if (generations.length < 1 || generations.length > 2) {
      problems.push({
        field: 'originKeyGenerations',
        rule: `must list one generation, or two while rotating (got ${generations.length}); each trusted generation is a CloudFront public key, which the account has few of`,
      });
    }
    if (new Set(generations).size !== generations.length) {
      problems.push({ field: 'originKeyGenerations', rule: `must not repeat a generation (got ${generations.join(', ')})` });
    }
  }
  const active = input.originKeyActive;
  if (active !== undefined && !(generations ?? [1]).includes(active)) {
    problems.push({
      field: 'originKeyActive',
      rule: `must be one of originKeyGenerations (${(generations ?? [1]).join(', ')}); got ${active}: only a trusted generation can sign`,
    });
  }
  return problems;
}

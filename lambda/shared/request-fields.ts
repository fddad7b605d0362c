import { z } from 'zod';
import { DYNAMODB_LIMITS, REQUEST_LIMITS } from './control-table';

/**
 * Building blocks for request schemas whose bounds come from `REQUEST_LIMITS` and
 * `DYNAMODB_LIMITS`: a value one of these accepts can always be keyed and stored.
 */

/** Appliance, cluster, title and session ids: they go into keys, tokens and URLs, so no dots or slashes. */
export const ID_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9_-]{0,${REQUEST_LIMITS.idChars - 1}}$`);

export function idField(what: string, message = `must be a ${what} id: 1-${REQUEST_LIMITS.idChars} letters, digits, '-' or '_'`) {
  return z.string().max(REQUEST_LIMITS.idChars, message).regex(ID_PATTERN, message);
}

/** A viewer's `sub` claim: printable ASCII, as OIDC has it, so no control character reaches a key. */
export const SUBJECT_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${REQUEST_LIMITS.subjectChars}}$`);

/** A whole number from `min` to `max`, both safe integers, so the table stores it exactly. */
export function wholeNumber(min: number, max: number) {
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max) {
    throw new Error(`wholeNumber(${min}, ${max}): bounds must be safe integers, lowest first`);
  }
  return z.number().int().min(min).max(max);
}

/**
 * A number from `min` to `max`, kept to `decimalPlaces`. The rounding is what keeps a value such
 * as 1e-300 storable (it becomes 0) instead of a number DynamoDB refuses; the bounds keep it finite.
 */
export function decimalNumber(min: number, max: number, decimalPlaces: number) {
  const resolution = 10 ** -decimalPlaces;
  const largest = Math.max(Math.abs(min), Math.abs(max));
  if (!Number.isInteger(decimalPlaces) || resolution < DYNAMODB_LIMITS.smallestNumberMagnitude || largest >= 1e15 || min > max) {
    throw new Error(`decimalNumber(${min}, ${max}, ${decimalPlaces}): bounds must be below 1e15 and the resolution storable`);
  }
  return z
    .number()
    .min(min)
    .max(max)
    .transform((value) => Number(value.toFixed(decimalPlaces)));
}

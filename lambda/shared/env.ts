/** Reads a variable the function construct must have set; a missing one is a deployment bug. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`Environment variable ${name} is not set; the function's construct binds it`);
  }
  return value;
}

/** Reads a positive whole number, falling back to `fallback` when the variable is unset. */
export function positiveIntegerEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`Environment variable ${name} must be a positive whole number (got '${raw}')`);
  }
  return value;
}

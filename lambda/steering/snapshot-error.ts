/** A steering snapshot that cannot be encoded or decoded; the message names what is wrong. */
export class SnapshotFormatError extends Error {
  constructor(problem: string) {
    super(`steering snapshot: ${problem}`);
    this.name = 'SnapshotFormatError';
  }
}

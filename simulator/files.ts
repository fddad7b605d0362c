import * as fs from 'node:fs';
import { z } from 'zod';
import { requestsFrom, SimCluster, SimTitle, Workload } from './workload';

/** A workload file that cannot be used, naming the file, the line where it applies, and the rule. */
export class WorkloadFileError extends Error {
  constructor(file: string, line: number | undefined, rule: string) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${rule}`);
    this.name = 'WorkloadFileError';
  }
}

const TRACE_HEADER = 'day,cluster,title,bytes';

const catalogSchema = z
  .array(z.strictObject({ title: z.string().min(1), bytes: z.number().int().positive(), releaseDay: z.number().int() }))
  .min(1, 'must list at least one title');
const fleetSchema = z.strictObject({
  clusters: z.array(z.strictObject({ id: z.string().min(1), capacityBytes: z.number().int().nonnegative() })).min(1, 'must list at least one cluster'),
});

function readJson<T>(file: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new WorkloadFileError(file, undefined, `cannot read JSON: ${(error as Error).message}`);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new WorkloadFileError(file, undefined, `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

/**
 * Reads `--trace` (CSV `day,cluster,title,bytes`, one request per row), `--catalog` and `--fleet`
 * into a workload. The first bad line stops the read with its line number.
 */
export function readWorkloadFiles(files: { trace: string; catalog: string; fleet: string }): Workload {
  const catalog = readJson(files.catalog, catalogSchema);
  const fleet = readJson(files.fleet, fleetSchema);
  const titles: SimTitle[] = catalog.map((entry) => ({ id: entry.title, bytes: entry.bytes, releaseDay: entry.releaseDay }));
  const clusters: SimCluster[] = fleet.clusters;
  if (clusters.length > 65_535) {
    throw new WorkloadFileError(files.fleet, undefined, `lists ${clusters.length} clusters; at most 65,535`);
  }
  const titleIndex = uniqueIndex(titles.map((title) => title.id), files.catalog, 'title');
  const clusterIndex = uniqueIndex(clusters.map((cluster) => cluster.id), files.fleet, 'cluster');

  let text: string;
  try {
    text = fs.readFileSync(files.trace, 'utf8');
  } catch (error) {
    throw new WorkloadFileError(files.trace, undefined, `cannot read: ${(error as Error).message}`);
  }
  const lines = text.split(/\r?\n/);
  if (lines[0].trim() !== TRACE_HEADER) {
    throw new WorkloadFileError(files.trace, 1, `the header must be '${TRACE_HEADER}' (got '${lines[0].trim()}')`);
  }
  const rows: { day: number; cluster: number; title: number; bytes: number }[] = [];
  for (let number = 2; number <= lines.length; number++) {
    const line = lines[number - 1].trim();
    if (line === '') {
      continue;
    }
    const fields = line.split(',');
    if (fields.length !== 4) {
      throw new WorkloadFileError(files.trace, number, `expected 4 fields (day,cluster,title,bytes), got ${fields.length}`);
    }
    const [dayText, cluster, title, bytesText] = fields.map((field) => field.trim());
    if (!/^-?\d+$/.test(dayText)) {
      throw new WorkloadFileError(files.trace, number, `day '${dayText}' is not a whole number`);
    }
    if (!/^\d+$/.test(bytesText) || Number(bytesText) <= 0) {
      throw new WorkloadFileError(files.trace, number, `bytes '${bytesText}' is not a positive whole number`);
    }
    const clusterAt = clusterIndex.get(cluster);
    if (clusterAt === undefined) {
      throw new WorkloadFileError(files.trace, number, `cluster '${cluster}' is not in ${files.fleet}`);
    }
    const titleAt = titleIndex.get(title);
    if (titleAt === undefined) {
      throw new WorkloadFileError(files.trace, number, `title '${title}' is not in ${files.catalog}`);
    }
    const day = Number(dayText);
    if (day < titles[titleAt].releaseDay) {
      throw new WorkloadFileError(files.trace, number, `title '${title}' is requested on day ${day}, before its release on day ${titles[titleAt].releaseDay}`);
    }
    rows.push({ day, cluster: clusterAt, title: titleAt, bytes: Number(bytesText) });
  }
  if (rows.length === 0) {
    throw new WorkloadFileError(files.trace, undefined, 'has no requests');
  }
  return { titles, clusters, requests: requestsFrom(rows) };
}

function uniqueIndex(ids: readonly string[], file: string, what: string): Map<string, number> {
  const index = new Map<string, number>();
  ids.forEach((id, position) => {
    if (index.has(id)) {
      throw new WorkloadFileError(file, undefined, `${what} '${id}' is listed twice`);
    }
    index.set(id, position);
  });
  return index;
}

import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { z } from 'zod';
import { Requests, SimCluster, SimTitle, Workload } from './workload';

/** A workload file that cannot be used, naming the file, the line where it applies, and the rule. */
export class WorkloadFileError extends Error {
  constructor(file: string, line: number | undefined, rule: string) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${rule}`);
    this.name = 'WorkloadFileError';
  }
}

const TRACE_HEADER = 'day,cluster,title,bytes';

const catalogSchema = z
  .array(
    z
      .strictObject({
        title: z.string().min(1),
        bytes: z.number().int().positive(),
        releaseDay: z.number().int(),
        retireDay: z.number().int().optional(),
        series: z.string().min(1).optional(),
        episode: z.number().int().positive().optional(),
      })
      .refine((entry) => (entry.series === undefined) === (entry.episode === undefined), {
        path: ['episode'],
        error: 'series and episode go together: give both (an episode of that series) or neither',
      })
      .refine((entry) => entry.retireDay === undefined || entry.retireDay >= entry.releaseDay, {
        path: ['retireDay'],
        error: (issue) => {
          const entry = issue.input as { releaseDay: number; retireDay: number };
          return `must not be before releaseDay ${entry.releaseDay} (got ${entry.retireDay})`;
        },
      }),
  )
  .min(1, 'must list at least one title');
const applianceSchema = z.strictObject({
  id: z.string().min(1),
  diskBytes: z.number().int().nonnegative(),
  /** Omitted: no limit. */
  egressBytesPerDay: z.number().positive().optional(),
});
/** A cluster gives `capacityBytes` (one appliance with no egress limit, the older form) or `appliances`. */
const fleetSchema = z.strictObject({
  clusters: z
    .array(
      z
        .strictObject({
          id: z.string().min(1),
          capacityBytes: z.number().int().nonnegative().optional(),
          appliances: z.array(applianceSchema).min(1, 'must list at least one appliance').optional(),
        })
        .refine((cluster) => (cluster.capacityBytes === undefined) !== (cluster.appliances === undefined), {
          error: 'give either capacityBytes (one appliance, no egress limit) or appliances, not both or neither',
        }),
    )
    .min(1, 'must list at least one cluster'),
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
 * into a workload. The trace is streamed line by line, so memory follows the requests kept, not
 * the file's text. The first bad line stops the read with its line number.
 */
export async function readWorkloadFiles(files: { trace: string; catalog: string; fleet: string }): Promise<Workload> {
  const catalog = readJson(files.catalog, catalogSchema);
  const fleet = readJson(files.fleet, fleetSchema);
  const titles: SimTitle[] = catalog.map((entry) => ({
    id: entry.title,
    bytes: entry.bytes,
    releaseDay: entry.releaseDay,
    ...(entry.retireDay === undefined ? {} : { retireDay: entry.retireDay }),
    ...(entry.series === undefined ? {} : { seriesId: entry.series, episode: entry.episode }),
  }));
  const clusters: SimCluster[] = fleet.clusters.map((cluster) => ({
    id: cluster.id,
    appliances: (cluster.appliances ?? [{ id: cluster.id, diskBytes: cluster.capacityBytes! }]).map((appliance) => ({
      id: appliance.id,
      diskBytes: appliance.diskBytes,
      egressBytesPerDay: appliance.egressBytesPerDay ?? Infinity,
    })),
  }));
  if (clusters.length > 65_535) {
    throw new WorkloadFileError(files.fleet, undefined, `lists ${clusters.length} clusters; at most 65,535`);
  }
  const titleIndex = uniqueIndex(titles.map((title) => title.id), files.catalog, 'title');
  const clusterIndex = uniqueIndex(clusters.map((cluster) => cluster.id), files.fleet, 'cluster');
  uniqueIndex(clusters.flatMap((cluster) => cluster.appliances.map((appliance) => appliance.id)), files.fleet, 'appliance');

  const byDay = new Map<number, DayColumns>();
  const input = fs.createReadStream(files.trace, { encoding: 'utf8' });
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let number = 0;
  try {
    for await (const text of lines) {
      number++;
      if (number === 1) {
        if (text.trim() !== TRACE_HEADER) {
          throw new WorkloadFileError(files.trace, 1, `the header must be '${TRACE_HEADER}' (got '${text.trim()}')`);
        }
        continue;
      }
      const line = text.trim();
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
      const { releaseDay, retireDay } = titles[titleAt];
      if (day < releaseDay) {
        throw new WorkloadFileError(files.trace, number, `title '${title}' is requested on day ${day}, before its release on day ${releaseDay}`);
      }
      if (retireDay !== undefined && day >= retireDay) {
        throw new WorkloadFileError(files.trace, number, `title '${title}' is requested on day ${day}, on or after its retirement on day ${retireDay}`);
      }
      let columns = byDay.get(day);
      if (!columns) {
        columns = new DayColumns();
        byDay.set(day, columns);
      }
      columns.push(clusterAt, titleAt, Number(bytesText));
    }
  } catch (error) {
    if (error instanceof WorkloadFileError) {
      throw error;
    }
    throw new WorkloadFileError(files.trace, undefined, `cannot read: ${(error as Error).message}`);
  } finally {
    lines.close();
    input.destroy();
  }
  if (number === 0) {
    throw new WorkloadFileError(files.trace, 1, `the header must be '${TRACE_HEADER}' (got '')`);
  }
  if (byDay.size === 0) {
    throw new WorkloadFileError(files.trace, undefined, 'has no requests');
  }
  return { titles, clusters, requests: requestsByDay(byDay) };
}

/** One day's requests in trace order, in typed arrays that double as they fill. */
class DayColumns {
  length = 0;
  cluster = new Uint16Array(64);
  title = new Uint32Array(64);
  bytes = new Float64Array(64);

  push(cluster: number, title: number, bytes: number): void {
    if (this.length === this.cluster.length) {
      this.cluster = grown(this.cluster, new Uint16Array(this.length * 2));
      this.title = grown(this.title, new Uint32Array(this.length * 2));
      this.bytes = grown(this.bytes, new Float64Array(this.length * 2));
    }
    this.cluster[this.length] = cluster;
    this.title[this.length] = title;
    this.bytes[this.length] = bytes;
    this.length++;
  }
}

function grown<T extends Uint16Array | Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** The days' requests in day order, each day's in trace order (the stable sort by day). */
function requestsByDay(byDay: ReadonlyMap<number, DayColumns>): Requests {
  const days = [...byDay.keys()].sort((a, b) => a - b);
  const length = days.reduce((sum, day) => sum + byDay.get(day)!.length, 0);
  const requests = { length, day: new Int32Array(length), cluster: new Uint16Array(length), title: new Uint32Array(length), bytes: new Float64Array(length) };
  let at = 0;
  for (const day of days) {
    const columns = byDay.get(day)!;
    requests.day.fill(day, at, at + columns.length);
    requests.cluster.set(columns.cluster.subarray(0, columns.length), at);
    requests.title.set(columns.title.subarray(0, columns.length), at);
    requests.bytes.set(columns.bytes.subarray(0, columns.length), at);
    at += columns.length;
  }
  return requests;
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

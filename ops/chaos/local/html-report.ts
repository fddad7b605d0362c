import type { LocalDrillResult } from './drill';

const WIDTH = 720;
const HEIGHT = 240;
const PAD = 40;
const BUCKET_MS = 2_000;
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

/** A self-contained HTML page for one or more drills: verdicts, and SPS per region over time with the fault shaded. */
export function drillsHtml(results: readonly LocalDrillResult[], generatedAt: Date): string {
  const sections = results.map((result) => drillSection(result)).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nearstream local chaos drills</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}.pass{color:#2ca02c}.fail{color:#d62728}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}svg{border:1px solid #ddd}</style>
</head><body>
<h1>Nearstream local chaos drills</h1>
<p>${escape(generatedAt.toISOString())}: ${results.filter((result) => result.verdict.passed).length} of ${results.length} passed.</p>
${sections}
</body></html>
`;
}

function drillSection(result: LocalDrillResult): string {
  const { experiment, verdict } = result;
  const status = verdict.passed ? '<span class="pass">PASS</span>' : '<span class="fail">FAIL</span>';
  const rows = [verdict.total, ...verdict.regions]
    .map((region) => `<tr><th>${escape(region.region)}</th><td>${region.baselineSps.toFixed(2)}</td><td>${region.faultSps.toFixed(2)}</td><td>${region.dipPercent.toFixed(1)}%</td></tr>`)
    .join('');
  const failures = verdict.failures.length > 0 ? `<ul>${verdict.failures.map((failure) => `<li class="fail">${escape(failure)}</li>`).join('')}</ul>` : '';
  return `<section>
<h2>${escape(experiment.name)}: ${status}</h2>
<p>${escape(experiment.title)}. Fault: ${escape(result.fault)}. Hypothesis: ${escape(experiment.hypothesis)}</p>
<p>${verdict.plays} plays, ${verdict.incompletePlays} incomplete; rebuffer ratio ${(verdict.rebufferRatio * 100).toFixed(1)}%; failed segment fetches ${(verdict.failedFetchRatio * 100).toFixed(1)}%; the platform's SPS may dip ${experiment.maxSpsDipPercent}% (each region's is shown, not judged: players fail over between them).</p>
<table><tr><th>region</th><th>SPS before</th><th>SPS during fault</th><th>dip</th></tr>${rows}</table>
${failures}
${spsChart(result)}
</section>`;
}

/** SPS per region in 2-second buckets, as an inline SVG line chart; the fault window shaded. */
export function spsChart(result: LocalDrillResult): string {
  const { windows, samples } = result;
  const spanMs = Math.max(BUCKET_MS, windows.endMs - windows.startMs);
  const buckets = Math.ceil(spanMs / BUCKET_MS);
  const regions = [...new Set(samples.map((sample) => sample.region))].sort();
  const series = regions.map((region) => {
    const counts = new Array<number>(buckets).fill(0);
    for (const sample of samples.filter((entry) => entry.region === region)) {
      const index = Math.floor((sample.atMs - windows.startMs) / BUCKET_MS);
      if (index >= 0 && index < buckets) {
        counts[index] += sample.starts;
      }
    }
    return { region, sps: counts.map((count) => count / (BUCKET_MS / 1000)) };
  });
  const maxSps = Math.max(1, ...series.flatMap((entry) => entry.sps));
  const x = (ms: number) => PAD + ((ms - windows.startMs) / spanMs) * (WIDTH - 2 * PAD);
  const y = (sps: number) => HEIGHT - PAD - (sps / maxSps) * (HEIGHT - 2 * PAD);
  const lines = series
    .map((entry, index) => {
      const points = entry.sps.map((sps, bucket) => `${x(windows.startMs + (bucket + 0.5) * BUCKET_MS).toFixed(1)},${y(sps).toFixed(1)}`).join(' ');
      const colour = COLOURS[index % COLOURS.length];
      return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points}"/><text x="${WIDTH - PAD - 90 * (series.length - 1 - index)}" y="${PAD - 8}" fill="${colour}" font-size="12" text-anchor="end">${escape(entry.region)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="SPS per region over time">
<rect class="fault-window" x="${x(windows.faultStartMs).toFixed(1)}" y="${PAD}" width="${(x(windows.faultEndMs) - x(windows.faultStartMs)).toFixed(1)}" height="${HEIGHT - 2 * PAD}" fill="#f5c6c6" opacity="0.6"><title>fault</title></rect>
<line x1="${PAD}" y1="${HEIGHT - PAD}" x2="${WIDTH - PAD}" y2="${HEIGHT - PAD}" stroke="#333"/><line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${HEIGHT - PAD}" stroke="#333"/>
<text x="${PAD}" y="${PAD - 8}" font-size="12">SPS (max ${maxSps.toFixed(1)})</text><text x="${WIDTH - PAD}" y="${HEIGHT - PAD + 16}" font-size="12" text-anchor="end">${Math.round(spanMs / 1000)} s</text>
${lines}
</svg>`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

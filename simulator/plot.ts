import { SimulationResult } from './simulate';

const WIDTH = 720;
const HEIGHT = 400;
const MARGIN = { left: 56, right: 120, top: 24, bottom: 40 };
const COLORS: Readonly<Record<string, string>> = { planner: '#1b6ac9', lru: '#d9822b', lfu: '#2e9e5b', belady: '#7a7a7a' };

/** An SVG line chart of offload per day per policy (warm-up days drawn too, shaded). */
export function offloadPlot(result: SimulationResult): string {
  const days = result.days;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (position: number) => MARGIN.left + (days.length <= 1 ? 0 : (position / (days.length - 1)) * plotWidth);
  const y = (offload: number) => MARGIN.top + (1 - offload) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>Byte offload per day by policy</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
  ];
  if (result.warmupDays > 0 && days.length > 1) {
    parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${x(result.warmupDays) - MARGIN.left}" height="${plotHeight}" fill="#f0f0f0"><title>warm-up, not counted</title></rect>`);
  }
  for (let tick = 0; tick <= 10; tick += 2) {
    const value = tick / 10;
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(value)}" y2="${y(value)}" stroke="#ddd"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${y(value) + 4}" text-anchor="end">${Math.round(value * 100)}%</text>`);
  }
  const step = Math.max(1, Math.ceil(days.length / 10));
  days.forEach((day, position) => {
    if (position % step === 0) {
      parts.push(`<text x="${x(position)}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${day}</text>`);
    }
  });
  parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 6}" text-anchor="middle">day</text>`);
  Object.entries(result.policies).forEach(([name, policy], index) => {
    const color = COLORS[name] ?? '#000';
    const points = policy.offloadByDay.map((offload, position) => `${x(position).toFixed(1)},${y(offload).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points}"><title>${name}</title></polyline>`);
    const legendY = MARGIN.top + 16 + index * 18;
    parts.push(`<line x1="${WIDTH - MARGIN.right + 12}" x2="${WIDTH - MARGIN.right + 32}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${WIDTH - MARGIN.right + 38}" y="${legendY}">${name} ${(policy.offload * 100).toFixed(1)}%</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

import * as fs from 'node:fs';
import * as path from 'node:path';

describe('install.sh under set -euo pipefail', () => {
  const script = fs.readFileSync(path.join(__dirname, '..', '..', 'appliance-image', 'install', 'install.sh'), 'utf8');

  it('runs with pipefail, so a failing command inside a pipeline stops the install', () => {
    expect(script).toMatch(/^set -euo pipefail$/m);
  });

  it('pipes into no reader that exits early (head, grep -q/-m): the writer may die of SIGPIPE and the install exit silently', () => {
    const commands = script.split('\n').filter((line) => !line.trim().startsWith('#'));
    const early = commands.filter((line) => /\|\s*(head\b|grep\s+(-\w*[qm]\w*|--quiet|--max-count))/.test(line));
    expect(early).toEqual([]);
  });
});

/**
 * Summarise V8 CPU profiles (`.cpuprofile`, as `--cpu-prof` writes them, one per thread): self time per
 * thread, then the heaviest functions and source files — the quickest way to see where a run spent CPU.
 *
 *   node --import tsx bench/profile-summary.ts DIR [--top 25]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const profileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
    }),
  ),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

/** Where a source URL belongs, shortened: `node_modules/<pkg>`, a repository path, or `(node)`. */
function area(url: string): string {
  if (url === '') return '(native/gc/idle)';
  if (url.startsWith('node:')) return `(node) ${url}`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1]) return `node_modules/${nm[1]}`;
  const repo = /\/main\/(.+)$/.exec(url);
  return repo?.[1] ?? url;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' } },
  });
  const dir = positionals[0];
  if (!dir) {
    process.stderr.write('usage: node --import tsx bench/profile-summary.ts DIR [--top 25]\n');
    process.exit(2);
  }
  const top = Number(values.top);
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  const threads: [string, number, number][] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))) {
    const profile = profileSchema.parse(JSON.parse(readFileSync(join(dir, name), 'utf8')));
    const nodes = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
    let busy = 0;
    let all = 0;
    profile.samples.forEach((id, i) => {
      const ms = (profile.timeDeltas[i] ?? 0) / 1000;
      all += ms;
      const frame = nodes.get(id);
      if (!frame || frame.functionName === '(idle)' || frame.functionName === '(program)') return;
      busy += ms;
      const key = `${frame.functionName || '(anonymous)'} ${area(frame.url)}:${frame.lineNumber + 1}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
      const fileKey = frame.url === '' ? frame.functionName : area(frame.url);
      byArea.set(fileKey, (byArea.get(fileKey) ?? 0) + ms);
    });
    threads.push([name, busy, all]);
  }
  const print = (title: string, rows: [string, number][]) => {
    process.stdout.write(`\n${title}\n`);
    for (const [key, ms] of rows) process.stdout.write(`${ms.toFixed(0).padStart(8)} ms  ${key}\n`);
  };
  print(
    'busy time per thread (profile file)',
    threads
      .sort((a, b) => b[1] - a[1])
      .map(([name, busy, all]) => [`${name} (of ${all.toFixed(0)} ms)`, busy]),
  );
  print('self time by file / package', [...byArea].sort((a, b) => b[1] - a[1]).slice(0, top));
  print('self time by function', [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top));
}

main();

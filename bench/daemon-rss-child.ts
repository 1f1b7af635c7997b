// First, as in the CLI: V8 tuned for a small heap before anything else loads.
import '../src/small-heap.js';
import { parseConfig } from '../src/config-file.js';
import { silentLogger } from '../src/log.js';
import { openRuntime } from '../src/main.js';

/**
 * The daemon's own process, as `run` composes it (`openRuntime` from `src/main.ts`, no fake
 * loaded), driving inventory cycles against shops and a supplier served by the parent. Reports
 * its peak RSS after each cycle the parent asks for; the parent drifts the catalogue between.
 */

const [configPath, configText] = process.argv.slice(2) as [string, string];
const runtime = await openRuntime(parseConfig(configText, configPath), silentLogger());
const rss = () => process.resourceUsage().maxRSS * 1024;
process.on('message', async (m: { cycle?: boolean; stop?: boolean }) => {
  if (m.stop) {
    await runtime.close();
    process.send?.({ done: true, maxRssBytes: rss() }, () => process.exit(0));
    return;
  }
  const report = await runtime.job.run({});
  const acknowledged = report.stores.reduce((a, s) => a + s.acknowledged, 0);
  process.send?.({ acknowledged, maxRssBytes: rss() });
});
process.send?.({ ready: true, maxRssBytes: rss() });

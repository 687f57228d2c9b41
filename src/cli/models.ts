/** `imgcls models`: the built-in models and what the model store holds. */
import { defineCommand } from 'citty';
import { ensureBuiltin, listModels, storeDir } from '../store/store.ts';
import { BUILTIN_MODELS, DEFAULT_MODEL } from '../store/builtin.ts';
import type { CommandData } from './io.ts';
import { checkKnownFlags, storeOptions } from './options.ts';

const args = {
  store: { type: 'string', description: 'Model store directory (default: $IMGCLS_HOME, else ~/.cache/imgcls)', valueHint: 'dir' },
  prepare: { type: 'boolean', description: 'Convert the built-in models into the store now (for offline images and caches)' },
  json: { type: 'boolean', description: 'Print the list as JSON' },
} as const;

export const modelsCommand = defineCommand({
  meta: { name: 'models', description: 'List the available models (built-in and in the store)' },
  args,
  async run({ args: a, rawArgs, data }) {
    const { io } = data as CommandData;
    checkKnownFlags(rawArgs, args);
    const options = storeOptions(a.store, io);
    if (a.prepare) for (const name of Object.keys(BUILTIN_MODELS)) await ensureBuiltin(name, options);
    const models = await listModels(options);
    if (a.json) {
      io.out(JSON.stringify({ store: storeDir(a.store), default: DEFAULT_MODEL, models }, null, 2));
      return;
    }
    const width = Math.max(...models.map((m) => m.name.length));
    io.out(`store: ${storeDir(a.store)}`);
    for (const m of models) {
      const status = m.builtin ? (m.ready ? 'built-in, converted' : 'built-in, converts on first use') : 'in store';
      const mark = m.name === DEFAULT_MODEL ? ' (default)' : '';
      io.out(`  ${m.name.padEnd(width)}  ${status}${mark}${m.description ? `  ${m.description}` : ''}`);
    }
  },
});

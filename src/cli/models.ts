/** `imgcls models`: the built-in models and what the model store holds, with where pulled ones came from. */
import { defineCommand } from 'citty';
import { ensureBuiltin, listModels, storeDir } from '../store/store.ts';
import { BUILTIN_MODELS, DEFAULT_MODEL } from '../store/builtin.ts';
import { createError } from '../errors.ts';
import type { CommandData } from './io.ts';
import { checkKnownFlags, storeArg, storeOptions } from './options.ts';

const args = {
  names: { type: 'positional', description: 'With --prepare: only these built-ins (default: all)', required: false },
  ...storeArg,
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
    // citty puts every positional in `_`.
    const names: string[] = a._.length > 0 ? a._ : Object.keys(BUILTIN_MODELS);
    if (a._.length > 0 && !a.prepare) throw createError('INVALID_OPTION', 'Model names are taken with --prepare only');
    const unknown = names.filter((n) => !(n in BUILTIN_MODELS));
    if (unknown.length > 0) throw createError('INVALID_OPTION', `Not a built-in model: ${unknown.join(', ')}; the built-ins are ${Object.keys(BUILTIN_MODELS).join(', ')}`);
    if (a.prepare) for (const name of names) await ensureBuiltin(name, options);
    const models = await listModels(options);
    if (a.json) {
      io.out(JSON.stringify({ store: storeDir(a.store), default: DEFAULT_MODEL, models }, null, 2));
      return;
    }
    const width = Math.max(...models.map((m) => m.name.length));
    io.out(`store: ${storeDir(a.store)}`);
    for (const m of models) {
      const status = m.builtin ? (m.ready ? 'built-in, converted' : 'built-in, converts on first use') : m.source ? 'pulled' : 'in store';
      const mark = m.name === DEFAULT_MODEL ? ' (default)' : '';
      const detail = [m.source ? `from ${m.source}` : '', m.description].filter(Boolean).join('  ');
      io.out(`  ${m.name.padEnd(width)}  ${status}${mark}${detail ? `  ${detail}` : ''}`);
    }
  },
});

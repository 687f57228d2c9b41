/** `imgcls rm <name>...`: delete models from the store. */
import { defineCommand } from 'citty';
import { createError } from '../errors.ts';
import { removeModel } from '../store/store.ts';
import type { CommandData } from './io.ts';
import { checkKnownFlags, storeArg, storeOptions } from './options.ts';

const args = {
  names: { type: 'positional', description: 'Models to delete from the store', required: false },
  ...storeArg,
} as const;

export const rmCommand = defineCommand({
  meta: { name: 'rm', description: 'Delete models from the store (a built-in is converted again on its next use)' },
  args,
  async run({ args: a, rawArgs, data }) {
    const { io } = data as CommandData;
    checkKnownFlags(rawArgs, args);
    const names: string[] = a._;
    if (names.length === 0) throw createError('INVALID_OPTION', 'Expected the name of a model to delete (imgcls models lists them)');
    const options = storeOptions(a.store, io);
    for (const name of names) {
      const removed = await removeModel(name, options);
      io.out(`Removed ${name} (${removed.dir})${removed.builtin ? '; it is a built-in, so it is converted again on its next use' : ''}`);
    }
  },
});

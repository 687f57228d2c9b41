/**
 * Settings measured over several rounds, the order reversed every other
 * round, so a slow spell on a shared machine does not always land on the same
 * setting: yields [round (from 1), setting].
 */
export function* alternating<T>(settings: readonly T[], rounds: number): Generator<[number, T]> {
  for (let round = 1; round <= rounds; round++) {
    for (const setting of round % 2 ? settings : [...settings].reverse()) yield [round, setting];
  }
}

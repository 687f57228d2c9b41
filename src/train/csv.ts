/**
 * A small RFC 4180 reader for the CSV and TSV files that label image
 * collections. It is lenient on purpose: a stray quote inside an unquoted
 * field is kept as text, and rows keep whatever number of fields they have,
 * so the caller can skip and count malformed rows instead of failing on them
 * (Kaggle's fashion-products styles.csv has unquoted commas in its last column).
 */

/** One record, with the line it starts on (1-based) for messages. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

export interface ParsedTable {
  records: CsvRecord[];
  /** Line on which a quoted field opened and never closed; the rest of the file went into that field. */
  unterminatedQuoteLine?: number;
}

const CANDIDATE_DELIMITERS = [',', '\t', ';', '|'] as const;

/**
 * Pick the delimiter for a file. The extension says what to expect (`.tsv` →
 * tab, anything else → comma); when the header line does not contain that
 * character but does contain another candidate (`;`, tab, `|`), the header wins,
 * since "CSV" files exported by spreadsheets in many locales use semicolons.
 */
export function sniffDelimiter(fileName: string, text: string): string {
  const expected = fileName.toLowerCase().endsWith('.tsv') ? '\t' : ',';
  const header = firstLine(text);
  const counts = new Map<string, number>(CANDIDATE_DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of header) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  if (counts.get(expected)! > 0) return expected;
  let best = expected;
  let bestCount = 0;
  for (const [d, n] of counts) if (n > bestCount) [best, bestCount] = [d, n];
  return best;
}

function firstLine(text: string): string {
  const body = stripBom(text);
  const end = body.search(/\r|\n/);
  return end === -1 ? body : body.slice(0, end);
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Parse delimited text: quoted fields (which may hold the delimiter, quotes
 * written as `""`, and line breaks), CRLF, LF or CR line ends, and a leading
 * byte-order mark. Blank lines are dropped.
 */
export function parseDelimited(text: string, delimiter: string): ParsedTable {
  const body = stripBom(text);
  const records: CsvRecord[] = [];
  let unterminatedQuoteLine: number | undefined;
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  // Whether the current record has any content; a bare line break is a blank line, not an empty record.
  let started = false;

  const endRecord = (): void => {
    if (started) {
      fields.push(field);
      records.push({ fields, line: recordLine });
    }
    fields = [];
    field = '';
    started = false;
  };

  while (i < body.length) {
    const ch = body[i]!;
    if (ch === '"' && field === '') {
      // A quoted field: read to the closing quote; "" is a literal quote.
      started = true;
      const openedOn = line;
      i++;
      let closed = false;
      while (i < body.length) {
        const c = body[i]!;
        if (c === '"') {
          if (body[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        if (c === '\n' || (c === '\r' && body[i + 1] !== '\n')) line++;
        field += c;
        i++;
      }
      if (!closed) unterminatedQuoteLine ??= openedOn;
      continue;
    }
    if (ch === delimiter) {
      started = true;
      fields.push(field);
      field = '';
      i++;
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      endRecord();
      i += ch === '\r' && body[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    // Anything else, including a quote in the middle of an unquoted field, is text.
    started = true;
    field += ch;
    i++;
  }
  endRecord();
  return unterminatedQuoteLine === undefined ? { records } : { records, unterminatedQuoteLine };
}

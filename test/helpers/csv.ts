/** What {@link readCsv} read, and how the text ended. */
export interface CsvText {
  rows: string[][];
  /** The text ended inside a quoted field. */
  unterminatedQuote: boolean;
  /** The last record ended with a line break (or the text is empty). */
  endsWithNewline: boolean;
}

/**
 * A minimal RFC 4180 reader for tests, independent of the code under test:
 * quoted fields, doubled quotes, CRLF or LF. A last record without a line
 * break is still returned.
 */
export function readCsv(text: string, delimiter = ','): CsvText {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  const endsWithNewline = field === '' && row.length === 0;
  if (!endsWithNewline) {
    row.push(field);
    rows.push(row);
  }
  return { rows, unterminatedQuote: quoted, endsWithNewline };
}

/** The records of a CSV text ({@link readCsv}). */
export function parseCsv(text: string, delimiter = ','): string[][] {
  return readCsv(text, delimiter).rows;
}

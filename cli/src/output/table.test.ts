import { describe, expect, it } from 'vitest';
import { renderTable, truncate } from './table';

describe('renderTable', () => {
  it('aligns columns under a header and a rule, without trailing spaces', () => {
    const out = renderTable(
      [{ header: 'FILE' }, { header: 'ROWS', align: 'right' }, { header: 'NOTE' }],
      [
        ['a.csv', '7', ''],
        ['longer_name.csv', '12,345', 'ok'],
      ],
    );
    expect(out).toBe(
      [
        'FILE               ROWS  NOTE',
        '---------------  ------  ----',
        'a.csv                 7',
        'longer_name.csv  12,345  ok',
        '',
      ].join('\n'),
    );
  });

  it('shortens long cells at the chosen end and flattens line breaks', () => {
    const out = renderTable(
      [{ header: 'PATH', maxWidth: 8, truncate: 'start' }, { header: 'MSG', maxWidth: 6 }],
      [['/very/long/path.csv', 'line1\nline2']],
    );
    expect(out.split('\n')[2]).toBe('…ath.csv  line1…');
  });

  it('renders missing cells as empty and a table without rows as its header', () => {
    expect(renderTable([{ header: 'A' }, { header: 'B' }], [['x']])).toBe('A  B\n-  -\nx\n');
    expect(renderTable([{ header: 'A' }], [])).toBe('A\n-\n');
  });
});

describe('truncate', () => {
  it('keeps short strings and cuts long ones to the width', () => {
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abcdef', 4, 'start')).toBe('…def');
    expect(truncate('abcdef', 1)).toBe('…');
  });
});

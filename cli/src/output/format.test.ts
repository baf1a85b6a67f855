import { JobState, TaskKind } from '@spindle/sdk';
import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatDuration, formatNumber, jobStateLabel, taskKindLabel } from './format';

describe('formatters', () => {
  it('formatBytes uses binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(12.3 * 1024 ** 2)).toBe('12 MiB');
    expect(formatBytes(-1)).toBe('?');
  });

  it('formatDuration picks a readable unit', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(1234)).toBe('1.2 s');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(185_000)).toBe('3m 05s');
    expect(formatDuration(2 * 3600_000 + 7 * 60_000)).toBe('2h 07m');
  });

  it('formatNumber trims trailing zeros and keeps integers whole', () => {
    expect(formatNumber(3)).toBe('3');
    expect(formatNumber(3.14159265)).toBe('3.1416');
    expect(formatNumber(2.5)).toBe('2.5');
    expect(formatNumber(-0.5)).toBe('-0.5');
    expect(formatNumber(123456.789)).toBe('123456.79');
    expect(formatNumber(1e-7)).toBe('1e-7');
    expect(formatNumber(Number.NaN)).toBe('NaN');
  });

  it('formatCount groups thousands', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
  });

  it('enum labels drop the prefix and survive unknown values', () => {
    expect(jobStateLabel(JobState.JOB_STATE_SUCCEEDED)).toBe('succeeded');
    expect(taskKindLabel(TaskKind.TASK_KIND_FETCH)).toBe('fetch');
    expect(jobStateLabel(99 as JobState)).toBe('job_state_99');
  });
});

import cron from 'node-cron';

/**
 * What node-cron's own `validate` lets through: it checks values but not steps, so
 * `*\/70 * * * *` ("every 70 minutes") passes and silently means "at minute 0". Each field's
 * values and steps are checked against its range here; the answer says which field and why.
 */

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const SECOND: Field = { name: 'second', min: 0, max: 59 };
const FIELDS: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

function fieldValue(token: string, field: Field): number | null {
  if (/^\d+$/.test(token)) return Number(token);
  const i = field.names?.findIndex((n) => token.toLowerCase().startsWith(n)) ?? -1;
  return i >= 0 ? i + field.min : null;
}

function partProblem(part: string, field: Field): string | null {
  const range = `${field.min}–${field.max}`;
  const [base = '', step, extra] = part.split('/');
  if (extra !== undefined) return `${field.name} "${part}" has two steps`;
  if (step !== undefined) {
    const n = /^\d+$/.test(step) ? Number(step) : Number.NaN;
    if (!(n >= 1 && n <= field.max)) {
      return `${field.name} step ${step} is outside ${field.name}s ${range} (e.g. */${Math.min(10, field.max)})`;
    }
  }
  if (base === '*' || base === '?') return null;
  for (const bound of base.split('-')) {
    const v = fieldValue(bound, field);
    if (v === null) return `${field.name} "${bound}" is not a number`;
    if (v < field.min || v > field.max) return `${field.name} ${bound} is outside ${field.name}s ${range}`;
  }
  return null;
}

/** Null when the expression is fine; else what is wrong with it, naming the field. */
export function cronProblem(expr: string): string | null {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return `has ${parts.length} fields: use 5 (minute hour day month weekday) or 6 (seconds first)`;
  }
  const fields = parts.length === 6 ? [SECOND, ...FIELDS] : FIELDS;
  for (let i = 0; i < parts.length; i++) {
    for (const part of (parts[i] as string).split(',')) {
      const p = partProblem(part, fields[i] as Field);
      if (p) return `"${expr}": ${p}`;
    }
  }
  return cron.validate(expr) ? null : `"${expr}" is not a node-cron expression`;
}

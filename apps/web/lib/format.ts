/** Short, human forms for times and versions. */

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayTimeFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' });

export const clockTime = (epochMs: number): string => timeFormat.format(epochMs);

/** "18:00" today, otherwise "Tuesday 4 March, 18:00". */
export function dayAndTime(epochMs: number, now = Date.now()): string {
  const sameDay = new Date(epochMs).toDateString() === new Date(now).toDateString();
  return sameDay ? timeFormat.format(epochMs) : dayTimeFormat.format(epochMs);
}

/** The first characters of an agreement version (a digest), enough to tell versions apart. */
export const shortVersion = (version: string): string => version.slice(0, 8);

/** "1 h 20 min", "12 min", "under 1 min". */
export function duration(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  if (ms <= 0) return '0 min';
  if (ms < 60_000) return 'under 1 min';
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return `${minutes} min`;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

/** An agreement's text as paragraphs (blank lines separate them). */
export const paragraphs = (text: string): string[] =>
  text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean);

/** A stopwatch reading: "0:05", "1:02", "1:02:03" (rounded down to the second). */
export function clock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** A countdown reading: like `clock`, but rounded up, so "0:01" shows until the time is up. */
export const countdown = (ms: number): string => clock(Math.ceil(Math.max(0, ms) / 1000) * 1000);

/** "1st", "2nd", "3rd", "4th", "11th", "22nd". */
export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  const suffix = ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${suffix}`;
}

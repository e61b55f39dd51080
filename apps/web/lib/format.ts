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

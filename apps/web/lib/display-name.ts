import { DisplayName } from '@group-room/shared';

const KEY = 'group-room:display-name';

/** Remembered for this browser tab only: nothing about the member outlives the tab. */
export function rememberedName(): string {
  if (typeof window === 'undefined') return '';
  return window.sessionStorage.getItem(KEY) ?? '';
}

export function rememberName(name: string): void {
  window.sessionStorage.setItem(KEY, name);
}

/** The same rule the server applies, so the form can say what is wrong before sending. */
export function checkName(raw: string): { ok: true; name: string } | { ok: false; message: string } {
  const parsed = DisplayName.safeParse(raw);
  if (parsed.success) return { ok: true, name: parsed.data };
  return { ok: false, message: `Name ${parsed.error.issues[0]?.message ?? 'is not valid'}.` };
}

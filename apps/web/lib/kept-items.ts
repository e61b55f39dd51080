/*
 * What a page keeps in Web Storage between loads (a seat's credential, the way back in, an
 * owner key). Storage may be missing or throw (private modes, blocked cookies) and an entry may
 * be damaged: every read and write here fails quietly, and a read that fails or finds nothing
 * valid is null. What "nothing kept" means is each caller's to say.
 */

/** The part of Storage used here, so tests can pass a stand-in. */
export type KeptStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** This page's sessionStorage or localStorage, or null where there is none to use. */
export function browserStorage(kind: 'sessionStorage' | 'localStorage'): KeptStorage | null {
  try {
    return typeof window === 'undefined' ? null : window[kind];
  } catch {
    return null;
  }
}

/** The item under `key` as `parse` reads it (parse may throw on a damaged entry). */
export function readItem<T>(storage: KeptStorage | null, key: string, parse: (raw: string) => T | null): T | null {
  try {
    const raw = storage?.getItem(key);
    return raw ? parse(raw) : null;
  } catch {
    return null;
  }
}

export function writeItem(storage: KeptStorage | null, key: string, value: string): void {
  try {
    storage?.setItem(key, value);
  } catch {
    // not kept: the caller goes on as if storage were missing
  }
}

export function removeItem(storage: KeptStorage | null, key: string): void {
  try {
    storage?.removeItem(key);
  } catch {
    // nothing was kept
  }
}

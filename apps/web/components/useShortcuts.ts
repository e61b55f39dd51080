'use client';

import { useCallback, useEffect, useRef, useState } from 'react';

/** Single-key shortcuts, e.g. { m: toggleMic, h: toggleHand }; keys are lower case. */
export type Shortcuts = Partial<Record<string, () => void>>;

/** Somewhere typing goes: a shortcut there would eat a letter. */
function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
}

/**
 * Page-wide single-letter shortcuts (shown next to the buttons they mirror). Ignored while
 * typing in a field, with any modifier key held, for held-down repeats, and when `enabled` is
 * false (the person turned single-key shortcuts off: see useShortcutSetting).
 */
export function useShortcuts(shortcuts: Shortcuts, enabled = true): void {
  // The latest handlers, without re-attaching the listener on every render.
  const latest = useRef(shortcuts);
  useEffect(() => {
    latest.current = shortcuts;
  });

  useEffect(() => {
    if (!enabled) return;
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.isComposing || event.repeat || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return;
      if (isTyping(event.target)) return;
      const action = latest.current[event.key.toLowerCase()];
      if (!action) return;
      event.preventDefault();
      action();
    };
    window.addEventListener('keydown', onKeyDown);
    return () => window.removeEventListener('keydown', onKeyDown);
  }, [enabled]);
}

const SETTING_KEY = 'group-room:single-key-shortcuts';

function readSetting(): boolean {
  try {
    return window.localStorage.getItem(SETTING_KEY) !== 'off';
  } catch {
    return true; // storage blocked: the default
  }
}

/**
 * Whether single-key shortcuts are on (WCAG 2.1.4: they can be turned off). On by default,
 * remembered in this browser.
 */
export function useShortcutSetting(): [boolean, (on: boolean) => void] {
  const [on, setOn] = useState(() => (typeof window === 'undefined' ? true : readSetting()));
  const change = useCallback((next: boolean) => {
    setOn(next);
    try {
      window.localStorage.setItem(SETTING_KEY, next ? 'on' : 'off');
    } catch {
      // storage blocked: on for this page only
    }
  }, []);
  return [on, change];
}

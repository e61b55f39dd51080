'use client';

import { useEffect, useRef } from 'react';

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
 * typing in a field, with any modifier key held, and for held-down repeats.
 */
export function useShortcuts(shortcuts: Shortcuts): void {
  // The latest handlers, without re-attaching the listener on every render.
  const latest = useRef(shortcuts);
  useEffect(() => {
    latest.current = shortcuts;
  });

  useEffect(() => {
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
  }, []);
}

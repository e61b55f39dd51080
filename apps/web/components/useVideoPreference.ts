'use client';

import { MAX_TILE_HEIGHT } from '@group-room/shared';
import { useEffect, useRef, type RefObject } from 'react';
import type { VideoPreference } from '@/lib/room-media';

/** Resizes and scrolling come in bursts: only where the tile settles is reported. */
const SETTLE_MS = 200;

/**
 * Report how a tile shows its video: whether any of it is on screen, and its height in device
 * pixels, each time that changes (after it settles), and null once the tile is gone.
 *
 * The tile is watched rather than its `<video>`: the video fills the tile, but is hidden while
 * there is no picture (before the first frame, camera off), and a hidden video must not stop
 * the picture it waits for.
 */
export function useVideoPreference(tile: RefObject<HTMLElement | null>, report: ((preference: VideoPreference | null) => void) | undefined): void {
  // The latest callback, without observing again each time the parent renders a new one.
  const latest = useRef(report);
  useEffect(() => {
    latest.current = report;
  }, [report]);
  const reporting = report !== undefined;

  useEffect(() => {
    const element = tile.current;
    if (!reporting || !element || typeof ResizeObserver === 'undefined' || typeof IntersectionObserver === 'undefined') return;
    let onScreen = false;
    let cssHeight = 0;
    let sent: string | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const height = Math.min(MAX_TILE_HEIGHT, Math.round(cssHeight * window.devicePixelRatio));
        const preference = { visible: onScreen && height > 0, height };
        const key = `${preference.visible}:${height}`;
        if (key === sent) return;
        sent = key;
        latest.current?.(preference);
      }, SETTLE_MS);
    };
    const sizes = new ResizeObserver((entries) => {
      for (const entry of entries) cssHeight = entry.contentRect.height;
      settle();
    });
    const screen = new IntersectionObserver((entries) => {
      for (const entry of entries) onScreen = entry.isIntersecting;
      settle();
    });
    sizes.observe(element);
    screen.observe(element);
    return () => {
      clearTimeout(timer);
      sizes.disconnect();
      screen.disconnect();
      latest.current?.(null);
    };
  }, [tile, reporting]);
}

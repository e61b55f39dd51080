import { MAX_TILE_HEIGHT } from '@group-room/shared';

/*
 * How tall a camera tile will be, in device pixels, before any tile has reported its size:
 * what a newcomer tells the server with `media:ready` (and with each video it resumes), so
 * each simulcast video starts in the layer its tile needs rather than switching after the
 * first frame. The rule is globals.css's `.grid` (keep the two in step): columns of at least
 * 240 px with 0.75rem between them, two columns with 0.5rem on a phone (≤ 480 px wide), and
 * 16:9 tiles as wide as their column.
 */

const MIN_COLUMN_PX = 240;
const GAP_REM = 0.75;
const PHONE_MAX_WIDTH_PX = 480;
const PHONE_COLUMNS = 2;
const PHONE_GAP_REM = 0.5;
/** The page around the grid, when there is no grid to measure yet (`.page`). */
const PAGE_MAX_WIDTH_PX = 1280;
const PAGE_PADDING_REM = 1.5;
const PHONE_PAGE_PADDING_REM = 0.85;
const TILE_ASPECT = 9 / 16;

const devicePixels = (cssHeight: number, pixelRatio: number): number => Math.min(MAX_TILE_HEIGHT, Math.max(0, Math.round(cssHeight * pixelRatio)));

/** A tile's height in device pixels, from the width of the grid and of the viewport (CSS px). */
export function layoutTileHeight(gridWidth: number, viewportWidth: number, pixelRatio: number, remPx = 16): number {
  const phone = viewportWidth <= PHONE_MAX_WIDTH_PX;
  const gap = (phone ? PHONE_GAP_REM : GAP_REM) * remPx;
  // auto-fill: as many columns of at least 240 px (or the whole width, if narrower) as fit.
  const columns = phone ? PHONE_COLUMNS : Math.max(1, Math.floor((gridWidth + gap) / (Math.min(gridWidth, MIN_COLUMN_PX) + gap)));
  const columnWidth = (gridWidth - gap * (columns - 1)) / columns;
  return devicePixels(columnWidth * TILE_ASPECT, pixelRatio);
}

/**
 * This page's camera tile height now: the room grid's own column width when the grid is on
 * the page (it is, from admission on), else the rule applied to the window. Undefined outside
 * a browser.
 */
export function estimateTileHeight(): number | undefined {
  if (typeof window === 'undefined' || typeof document === 'undefined') return undefined;
  const ratio = window.devicePixelRatio || 1;
  const grid = document.querySelector<HTMLElement>('section.grid');
  if (grid) {
    // The resolved tracks, e.g. "317.328px 317.328px 317.328px": the first is a plain tile's column.
    const column = Number.parseFloat(getComputedStyle(grid).gridTemplateColumns);
    if (Number.isFinite(column) && column > 0) return devicePixels(column * TILE_ASPECT, ratio);
  }
  const rem = Number.parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const viewport = document.documentElement.clientWidth || window.innerWidth;
  const padding = (viewport <= PHONE_MAX_WIDTH_PX ? PHONE_PAGE_PADDING_REM : PAGE_PADDING_REM) * rem;
  const width = grid?.clientWidth || Math.min(viewport, PAGE_MAX_WIDTH_PX) - 2 * padding;
  return layoutTileHeight(Math.max(width, 1), viewport, ratio, rem);
}

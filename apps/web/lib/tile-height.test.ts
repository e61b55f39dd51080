import { MAX_TILE_HEIGHT } from '@group-room/shared';
import { describe, expect, it } from 'vitest';
import { estimateTileHeight, layoutTileHeight } from './tile-height';

describe('layoutTileHeight', () => {
  it('fits as many columns of at least 240 px as the grid holds, 16:9 tiles', () => {
    // 976 px: three columns of (976 − 2 × 12) / 3 = 317.3 px, 178.5 px high (179).
    expect(layoutTileHeight(976, 1024, 1)).toBe(179);
    // 500 px: two columns of 244 px.
    expect(layoutTileHeight(500, 548, 1)).toBe(Math.round((244 * 9) / 16));
    // Narrower than a column: one column, the grid's width.
    expect(layoutTileHeight(200, 600, 1)).toBe(Math.round((200 * 9) / 16));
  });

  it('counts device pixels', () => {
    expect(layoutTileHeight(976, 1024, 2)).toBe(357);
  });

  it('gives a phone two columns with 0.5rem between them', () => {
    // 375 px wide, 0.85rem page padding each side: 347.8 px of grid, columns of 169.9 px.
    expect(layoutTileHeight(347.8, 375, 1)).toBe(96);
    expect(layoutTileHeight(347.8, 375, 3)).toBe(287);
  });

  it('stays within what the protocol takes', () => {
    expect(layoutTileHeight(976, 1024, 100)).toBe(MAX_TILE_HEIGHT);
    expect(layoutTileHeight(0, 1024, 1)).toBe(0);
  });
});

describe('estimateTileHeight', () => {
  it('has nothing to say outside a browser', () => {
    expect(estimateTileHeight()).toBeUndefined();
  });
});

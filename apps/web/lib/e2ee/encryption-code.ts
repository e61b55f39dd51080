import type * as RoomEncryptionCode from './room-encryption';

/*
 * The key handshake's code (room-encryption.ts with the shared KeyExchange, a tenth of the room
 * page's own script) is loaded apart from the page's first screen, which never needs it: the room
 * client asks for it as soon as someone is on their way in (entering, or taking a kept seat
 * back), so it has arrived long before the server lets them have media.
 */

type Code = typeof RoomEncryptionCode;

let loaded: Code | undefined;
let loading: Promise<Code> | undefined;

/** Start loading the code (once); a failed load is tried again by the next call. */
export function loadEncryptionCode(): Promise<Code> {
  loading ??= import('./room-encryption').then(
    (code) => (loaded = code),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

/** The code, if it has arrived. */
export const encryptionCode = (): Code | undefined => loaded;

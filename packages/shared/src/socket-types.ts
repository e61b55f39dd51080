import type { Result } from './errors.js';
import type { EventName, EventPayload } from './events.js';
import type { RequestName, RequestPayload, ResponseData } from './requests.js';

/** Socket.IO event maps derived from the schemas, so client and server cannot drift apart. */
export type ClientToServerEvents = {
  [K in RequestName]: (payload: RequestPayload<K>, ack: (result: Result<ResponseData<K>>) => void) => void;
};

export type ServerToClientEvents = {
  [K in EventName]: (payload: EventPayload<K>) => void;
};

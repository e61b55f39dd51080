import * as mediasoup from 'mediasoup';
import { serveCounters, trackMediasoup } from './capacity-counters.js';

/*
 * Loaded into our production server's process by bench:capacity (NODE_OPTIONS --import,
 * before apps/signal/dist/main.js runs): it follows the server's own mediasoup objects through
 * mediasoup's observer (the same module instance the server imports) and serves their packet
 * counters on CAPACITY_COUNTERS_PORT. It changes nothing the server does; the counters are read
 * only between measurement windows.
 */

const port = Number(process.env['CAPACITY_COUNTERS_PORT']);
if (port) serveCounters(trackMediasoup(mediasoup.observer), port);

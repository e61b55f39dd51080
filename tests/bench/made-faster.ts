/*
 * The report's "Made faster" section (tests/bench/report.ts): each change that made the product
 * faster, with its before and after. Figures that need an older build (the before) were measured
 * once, on a quiet machine, and are kept here with their date and method; the afters are the
 * same run's benches, printed further down the report.
 */

/**
 * Batching views: measured before and after the change (2026-11-30, commit 4487907) by
 * bench:views, run alternately on saved builds of both; this run's own bench:views is below.
 */
const VIEWS_BEFORE_AFTER = `- **Room views built once per change and coalesced.** Each person's view used to be built
  from scratch (member list, facilitators' block) and sent for every change; now the parts
  viewers share are built once per state, and of several changes in one turn of the event
  loop each socket is sent only the newest view (an answer never overtakes the view of its
  change: requests wait for views held). Views cannot be sent once to many sockets: each
  holds the viewer's own \`self\`, so no two are byte-identical. Before/after (bench:views,
  one room of 15 real Socket.IO clients, in-memory store; server CPU per command in ms, three
  alternating runs each, 2026-11-30):

  | phase | before | after |
  |---|---|---|
  | facilitator, 1 command in flight | 1.75 / 2.07 / 2.68 | 1.95 / 1.72 / 1.89 |
  | facilitator, 8 in flight | 1.41 / 1.35 / 1.64 | 0.49 / 0.63 / 0.65 |
  | 14 members, 1 in flight each | 1.12 / 1.38 / 1.61 | 0.55 / 0.53 / 0.58 |
  | 14 members, 4 in flight each | 1.32 / 1.22 / 1.11 | 0.36 / 0.35 / 0.27 |
  | 14 members entering at once | 3.8 / 5.1 / 6.0 | 3.4 / 3.1 / 3.3 |

  One command at a time is unchanged within noise (building a view for 15 people went from
  ~0.3 ms to ~0.04 ms, against ~2 ms per command, most of it 15 socket writes and JSON
  encoding); bursts cost 2.5–4× less. Through Redis nothing coalesces (each change waits on
  Redis round trips) and nothing measurable was added.`;

/**
 * The join in a full room (issue 20): measured 2026-12-07 on a quiet machine with the same
 * bench:big-room and synthetic members (which answer key-frame requests and send sender reports)
 * against the build before it (server of 628b03b, client a6e8b27: the join marks only); the
 * after is this run's bench:big-room below.
 */
const JOIN_BEFORE_AFTER = `- **A newcomer's media in one exchange, on the right layer, once it can decrypt.** Before:
  the newcomer waited for its camera before asking for media; the server announced each of the
  22 consumers of a room of 12 with its own \`consumer:new\`, each resumed by its own
  \`consumer:resume\` and each camera started on the top simulcast layer until the tile reported
  its size 200 ms after rendering (then a switch, and a key frame); resumed before the newcomer
  held its first key, the key frames the SFU asked for came under a key step it did not have.
  After: receiving starts without waiting for the camera; \`media:ready\` carries the camera
  tile's height (the tile's own report, else the layout rule measured on the page) and answers
  with every consumer, each camera on the layer covering that height; the page sets them all
  up in one renegotiation and resumes them with one \`consumers:resume\` once it holds its first
  key (at most 1 s later); a receiver whose decoder still has no key frame asks for one; the
  receive transports start their bandwidth estimate at 3 Mbit/s instead of 1. Before (quiet,
  2026-12-07, 5 joins each, median / p95):

  | | one layer | simulcast |
  |---|---|---|
  | let in → every tile showing video | 452 / 695 ms | 1294 / 1333 ms |
  | let in → first frame | 445 / 475 ms | 441 / 665 ms |
  | invite link opened → every tile showing video | 1309 / 1556 ms | 2020 / 2153 ms |
  | join:admitted → join:consumers-listed (the timeline's medians) | 946 − 793 = 153 ms | 956 − 815 = 141 ms |
  | join:admitted → join:recv-connected | 233 ms | 255 ms |

  (The issue's 3.7 s / 4.5 s were invite link → first frame with synthetic members that answered
  no key-frame request, in a window where the last row was paused: not comparable with these.)

  Then, measured on a slower machine (2 × AMD EPYC, 2026-12-07), where the before above takes
  four times as long: the page asks the browser for its RTP capabilities while the person is
  still on the way in (a Device's load made two throwaway RTCPeerConnections after admission,
  ~150–300 ms on a busy page); \`media:join\`, the receive transport and \`media:ready\` go out
  without waiting for each answer (the server takes a connection's media setup requests in the
  order sent); and a newcomer's own sending starts once the others' first video has arrived
  (within 1.5 s), as its offer and encoder start held the browser's WebRTC thread for up to
  500 ms just as the first pictures were due. Before (the build before issue 20, a6e8b27 with
  its server answering \`media:ready\` without consumers) and after (4c86661) run alternately,
  two rounds of 5 joins each, let in → every tile showing video, median / p95:

  | | one layer | simulcast |
  |---|---|---|
  | before, round 1 / round 2 | 2025 / 3221 ms, 1840 / 2265 ms | 1282 / 2710 ms, 1829 / 2219 ms |
  | after, round 1 / round 2 | 1069 / 1677 ms, 1278 / 1470 ms | 1414 / 1510 ms, 1146 / 1799 ms |
  | let in → first frame, before | 1453 ms, 1478 ms | 1113 ms, 1283 ms |
  | let in → first frame, after | 957 ms, 1037 ms | 999 ms, 994 ms |

  After, this run: bench:big-room below ("the join itself" and the timeline).`;

/** The store's copies and the views' encoding (issue 20): bench:views, quiet, alternating builds. */
const STATE_BEFORE_AFTER = `- **No copies of the room state per change; each view's shared bytes encoded once.** Before:
  the in-memory store made three \`structuredClone\`s per change (the draft, the kept copy, the
  returned copy) and Socket.IO encoded each person's \`room:view\` whole. After: stores hand out
  frozen states (a change builds a new one; only what it made new is frozen), the Redis store's
  home applies a change to its latest state instead of reading and parsing the doc first, and a
  view's frame is written pre-encoded: the JSON of the parts every viewer shares (member list,
  facilitators' block, floor, agreement) is made once per state, only each viewer's \`self\` per
  socket. Server CPU per command (ms) and, through Redis, commands/s and p99, bench:views run
  alternately on the two builds (before: 0fea980; after: 44f3699), two pairs, 2026-12-07:

  | phase | before | after |
  |---|---|---|
  | one room of 15, facilitator, 1 in flight | 1.046 / 1.066 | 0.775 / 0.795 |
  | one room of 15, facilitator, 8 in flight | 0.363 / 0.386 | 0.181 / 0.187 |
  | one room of 15, 14 members, 1 in flight each | 0.298 / 0.301 | 0.136 / 0.140 |
  | one room of 15, 14 members, 4 in flight each | 0.180 / 0.185 | 0.052 / 0.050 |
  | one room of 15, 14 members entering at once | 1.272 / 1.246 | 1.351 / 1.045 |
  | 100 rooms of 6 through Redis, 16 in flight: CPU/cmd | 0.412 / 0.431 | 0.377 / 0.375 |
  | the same: commands/s, p99 | 2541, 17.6 ms / 2479, 13.8 ms | 2806, 16.6 ms / 2850, 12.7 ms |
  | 100 rooms of 6 through Redis, 100 in flight: CPU/cmd | 0.404 / 0.440 | 0.347 / 0.350 |
  | the same: commands/s, p99 | 2619, 94.5 ms / 2392, 104.0 ms | 2908, 70.2 ms / 2857, 54.8 ms |

  In one room, 25–72 % less CPU per command; through Redis 9–20 % less, as each change there
  still waits on Redis round trips and the node spends most of its time on them and on the
  clients' sockets.`;

/** The room page's JavaScript (issue 20): tests/support/page-weight.ts on the two builds. */
const PAGE_BEFORE_AFTER = `- **The room page's first screen loads only its own code.** Before: 262.9 KiB gzip
  (269,257 bytes, 9 scripts, every screen's code in the first load; bench:big-room on the
  build before, 2026-12-07). After: the
  screens after the entry form (agreement, waiting room, room, end), facilitator-only code,
  the key handshake, the frame encryption's client, mediasoup-client and the check-out CSV load
  apart, requested as soon as someone is on the way in (while they type their name; a failed
  load is retried and shows "Part of this page could not load" with "Try again", never a blank
  page); \`@group-room/shared\` is marked free of side effects so unused schemas drop out. The
  first screen's figure is in "The other figures" below (the budget, 200,000 bytes, is checked
  by tests/browser/page-weight.test.ts); a member's browser loads ~253 KiB in all by the time it
  is in the room, a facilitator's ~271 KiB (the test prints both; not budgeted).`;

/**
 * Key frame requests held back until the encoder answers them (issue 20): bench:big-room 5 (3 in
 * two runs) on a 2 × Intel Xeon machine, 2026-12-07, before f7ccb7b and after it.
 */
const KEY_FRAME_BEFORE_AFTER = `- **A key frame request the sender would ignore is held back until it would answer it.** A
  browser's encoder ignores a key frame request within 300 ms of the last one it answered
  (libwebrtc), and mediasoup asks again only a second later. When a newcomer arrives, the
  others' layouts change and their tiles ask for key frames on new layers; the newcomer's own
  tiles asked for the same layers a few hundred milliseconds later, were ignored, and waited a
  second: the bench's tiles came in two groups 1 s apart (each request was logged with whether
  it was answered). Now every video producer holds a second request for a layer until 400 ms
  after the first (mediasoup's \`keyFrameRequestDelay\`). Let in → every tile showing video,
  median / p95, on a 2 × Intel Xeon machine (2026-12-07), four runs before and one after (5
  joins each; 3 in the second and third):

  | | one layer | simulcast |
  |---|---|---|
  | before | 616 / 1615, 547 / 1505, 739 / 1612, 599 / 1521 ms | 1538 / 1576, 1438 / 1618, 607 / 1259, 531 / 1447 ms |
  | after | 552 / 850 ms | 508 / 873 ms |

  After, this run: bench:big-room below.`;

/** The worker's hash maps (issue 20): bench:capacity, bare mediasoup, alternating workers. */
const HASH_MAP_BEFORE_AFTER = `- **The worker's per-packet lookups in flat hash maps.** mediasoup's worker is written for
  the unordered_dense hash map, which Debian does not package; our build's stand-in mapped it
  onto \`std::unordered_map\`, and one lookup per forwarded packet (a consumer's sequence state
  by stream) took ~6 % of a forwarding worker's time (perf). The stand-in now maps it onto
  abseil's flat hash map (Debian's, already linked; infra/mediasoup). Bare mediasoup's SFU CPU
  per stream at 8 rooms of 12 (1/100,000 of a core), bench:capacity run alternately on the two
  workers, two rounds, 2 × Intel Xeon, 2026-12-07: forwarding only 22.1 / 23.8 before, 20.0 /
  18.0 after; full receivers 45.9 / 45.6 before, 46.7 / 44.8 after (SRTP and the retransmission
  buffers dominate there). This run's figures are in "Capacity of one SFU core" above.`;

export const MADE_FASTER = `## Made faster, each with its before and after

Measured in this run unless a date says otherwise; the room-of-12 figures are bench:big-room's
below (one headless Chromium among eleven synthetic members, the same browser in each case).

- **Simulcast, the layer following the tile's size.** Browsers send their camera in two VP8
  layers (320×180 and 640×360; Chromium sends no full-size third layer from a 640×360
  capture); each receiver's client reports every video tile's height in device pixels
  (\`consumer:prefer\`) and the server sends the smallest layer that covers it
  (\`setPreferredLayers\`), from the heights the sender declared. Before/after:
  bench:big-room's "one layer" against "simulcast, layer by tile size" lines (the synthetic
  members send one 640×360 layer, or the same pattern at 160×90, 320×180 and 640×360).
- **Tiles not on screen are paused.** The client watches each tile with an
  IntersectionObserver; a tile out of view has its video paused on the server until it is
  visible again. Before/after: bench:big-room's 1024×1100 window (every tile on screen)
  against the 1024×700 one (the last row below the fold).
- **A speaker view.** Whoever holds the floor gets a tile two columns wide and two rows high,
  so their video arrives in the high layer while the others' stay small.
- **Audio only** for a member on a weak connection (the server pauses every video stream it
  sends them): bench:big-room's "Audio only" lines.
- **Rooms placed on workers by load** (transports + producers + consumers, then rooms): a new
  room's router goes to the worker carrying least, not the one with the fewest rooms.
  Before/after: bench:placement below, on two workers with a busy room of 12, a quiet room of
  one and a second busy room of 12: by router count the second busy room lands beside the
  first (one core doing all the work), by load beside the quiet one.
${VIEWS_BEFORE_AFTER}
${JOIN_BEFORE_AFTER}
${KEY_FRAME_BEFORE_AFTER}
${HASH_MAP_BEFORE_AFTER}
${STATE_BEFORE_AFTER}
${PAGE_BEFORE_AFTER}
`;

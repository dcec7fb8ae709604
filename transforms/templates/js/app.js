// A Sluice transform stage. `stage` is what the component exports;
// ./sluice-transform is the library (see its comments).
//
// Per record: a JSON object with a string `sessionId` is an event. Events of
// test sessions (id starting with `prefix`) are dropped; the others are kept
// and get one row on the `sessions` output. Anything else is rejected
// (dead-lettered with a reason).

import { defineStage, output } from './sluice-transform/index.js';

const SESSIONS = 0; // index of the output in `outputs`

export const stage = defineStage({
  // [transforms.params] in pipeline.toml, with defaults; unknown keys are refused.
  params: { prefix: 'test-' },

  outputs: [output('sessions').column('session_id', 'text').nullableColumn('event_type', 'text')],

  process(batch, out, params) {
    const prefix = params.prefix;
    for (const record of batch) {
      let event = null;
      try {
        event = record.json();
      } catch {
        // not UTF-8 JSON
      }
      const sessionId = event !== null && typeof event === 'object' && !Array.isArray(event) ? event.sessionId : undefined;
      if (typeof sessionId !== 'string') {
        out.reject('not an event: no string sessionId');
      } else if (sessionId.startsWith(prefix)) {
        out.drop();
      } else {
        out.keep();
        const eventType = event.eventType;
        out.emit(SESSIONS, [sessionId, typeof eventType === 'string' ? eventType : null], record);
      }
    }
  },
});

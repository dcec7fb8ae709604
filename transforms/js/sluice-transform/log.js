// Logging through the host (`host.log`). The host caps how much a stage may
// log per call, so log per batch, not per record. Natively (tests),
// messages go to standard error.

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);

// The host's log function, once component.js has connected it.
let sink = null;

/** Connects the host's `log` import (component.js does, inside the component). */
export function setHostLog(fn) {
  sink = fn;
}

/** `log(level, message)`, or `log.info(message)` (also debug, warn, error). */
export function log(level, message) {
  if (!LEVELS.has(level)) throw new TypeError(`log level ${JSON.stringify(level)} is not one of debug, info, warn, error`);
  message = String(message);
  if (sink === null) console.error(`[${level}] ${message}`);
  else sink(level, message);
}

log.debug = (message) => log('debug', message);
log.info = (message) => log('info', message);
log.warn = (message) => log('warn', message);
log.error = (message) => log('error', message);

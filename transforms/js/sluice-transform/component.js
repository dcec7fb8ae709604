// The entry of the component build (componentize-js): connects the host's
// log and exports `stage` from ../app.js, the project's stage.

import { log as hostLog } from 'sluice:transform/host@0.3.0';
import { setHostLog } from './log.js';

export { stage } from '../app.js';

setHostLog(hostLog);

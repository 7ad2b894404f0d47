/* Built-in segment definitions (data in ./segments, one JSON file per segment type). */
import type { SegmentDefinition } from '../types.js';
import E1EDK01 from './segments/E1EDK01.json' with { type: 'json' };
import E1EDK02 from './segments/E1EDK02.json' with { type: 'json' };
import E1EDK03 from './segments/E1EDK03.json' with { type: 'json' };
import E1EDK04 from './segments/E1EDK04.json' with { type: 'json' };
import E1EDK05 from './segments/E1EDK05.json' with { type: 'json' };
import E1EDK17 from './segments/E1EDK17.json' with { type: 'json' };
import E1EDK18 from './segments/E1EDK18.json' with { type: 'json' };
import E1EDK28 from './segments/E1EDK28.json' with { type: 'json' };
import E1EDKA1 from './segments/E1EDKA1.json' with { type: 'json' };
import E1EDKT1 from './segments/E1EDKT1.json' with { type: 'json' };
import E1EDKT2 from './segments/E1EDKT2.json' with { type: 'json' };
import E1EDP01 from './segments/E1EDP01.json' with { type: 'json' };
import E1EDP02 from './segments/E1EDP02.json' with { type: 'json' };
import E1EDP03 from './segments/E1EDP03.json' with { type: 'json' };
import E1EDP04 from './segments/E1EDP04.json' with { type: 'json' };
import E1EDP05 from './segments/E1EDP05.json' with { type: 'json' };
import E1EDP19 from './segments/E1EDP19.json' with { type: 'json' };
import E1EDP26 from './segments/E1EDP26.json' with { type: 'json' };
import E1EDPT1 from './segments/E1EDPT1.json' with { type: 'json' };
import E1EDPT2 from './segments/E1EDPT2.json' with { type: 'json' };
import E1EDS01 from './segments/E1EDS01.json' with { type: 'json' };

export const BUILTIN_SEGMENTS: readonly SegmentDefinition[] = [
  E1EDK01,
  E1EDK02,
  E1EDK03,
  E1EDK04,
  E1EDK05,
  E1EDK17,
  E1EDK18,
  E1EDK28,
  E1EDKA1,
  E1EDKT1,
  E1EDKT2,
  E1EDP01,
  E1EDP02,
  E1EDP03,
  E1EDP04,
  E1EDP05,
  E1EDP19,
  E1EDP26,
  E1EDPT1,
  E1EDPT2,
  E1EDS01,
];

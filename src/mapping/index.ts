/**
 * Declarative mappings: ERP export records (src/formats) to the Invoice model (src/invoice), with errors in the
 * consultant's terms, --explain traces, mapping test cases and starting mappings from sample files.
 * The language is documented in mappings/README.md.
 */
export {
  compileMapping,
  loadMapping,
  mapInvoice,
  mapFile,
  iterateFile,
  linesFileFor,
  whereText,
  type CompiledMapping,
  type ExplainEntry,
  type MapFileResult,
  type MapOptions,
  type MappedInvoice,
  type MappingVariables,
} from './engine.js';
export { FUNCTIONS, FUNCTION_NAMES, DEFAULT_DATE_FORMATS, partyIdFromVatId, normalizeVatRate } from './expr.js';
export { TARGETS, type TargetInfo, type TargetType } from './targets.js';
export { CHECK_NAMES, FORMAT_OPTIONS, FORMAT_TYPES } from './load.js';
export { runMappingTests, findMappings, type MappingTestCase, type MappingTestResult, type MappingTestOptions } from './testing.js';
export { scaffoldMapping, type ScaffoldOptions } from './scaffold.js';

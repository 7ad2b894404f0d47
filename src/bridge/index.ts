/**
 * The running product: routes (sources -> mapping -> store -> dispatcher), result files back to the ERP, the
 * data-folder lock, and a document's whole history. `startBridge` is what `ksef-bridge run` and the demo use.
 */
export { startBridge, type StartBridgeOptions, type RunningBridge, type BridgeSnapshot } from './bridge.js';
export { loadRoutes, defaultRoutesFile, templatesDir, type RouteConfig, type RoutesFile, type RouteSource, type RouteResults, type ResultFormat, type LoadRoutesOptions } from './routes.js';
export { invoiceIdentity, documentSource, type BridgeEvent } from './pipeline.js';
export { compileTemplate, type CompiledTemplate, type TemplateFormat } from './template.js';
export { resultData, resultName, upoOf, upoRefOf, type ResultData, type ResultInvoice, type UpoRef } from './results.js';
export { lockDataDir, type DataDirLock } from './lock.js';
export { documentHistory, historyText, type DocumentHistory } from './history.js';

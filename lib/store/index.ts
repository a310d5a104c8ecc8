// Public API of the store (DESIGN §4, docs/store.md).

export { Store } from "./store.js";
export type { AddFileOptions, AddOptions, BuildFn, GcRoot, StoreOpenOptions } from "./store.js";
export type { GcOptions, GcResult } from "./gc.js";
export type { VerifyProblem, VerifyResult } from "./verify.js";
export type { ItemRecord } from "./metadata.js";
export type { LockOptions } from "./lock.js";
export type { ProcessIdentity } from "../process.js";
export { hashItemTree, type ItemDigest } from "./hash.js";
export { FORMAT_VERSION, serializeItem, type MemNode } from "./serialize.js";
export { chooseStateDir, chooseStoreDir, type StoreLayout } from "./location.js";
export {
  STORE_PREFIX,
  canonicalReferences,
  formatStorePath,
  isStorePath,
  itemNameProblem,
  parseStorePath,
  splitStorePath,
  validateItemName,
  type StorePathParts,
} from "./paths.js";

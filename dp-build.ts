import { loadDeclaration, selectSystem } from "./lib/declaration/index.js";
import { buildSystem } from "./lib/system/build.js";
import { Store } from "./lib/store/index.js";
import { createLogger } from "./lib/log.js";
const store = await Store.open({ store: "/tmp/dp-proto/store/store" });
const t = Date.now();
const b = await buildSystem(store, selectSystem(await loadDeclaration("examples/development.scm")), createLogger({ write: (l: string) => process.stderr.write(l + "\n") }));
console.log(b.closurePath, store.toHostPath(b.closurePath), (Date.now() - t) / 1000);

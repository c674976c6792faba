// What every client script here does around its work: its options (with
// --timeout S, default 60), a result printed as one JSON line on stdout
// at the end (exit 0 when ok, else 1 and the error on stderr too), and a
// timer that ends it with an error after --timeout seconds.
//
//   const { opt, result, finish, check } = start("name", { url: { type: "string" } });
import { parseArgs } from "node:util";

export function start(name, options) {
  const { values: opt } = parseArgs({
    options: { ...options, timeout: { type: "string", default: "60" } },
  });
  const result = { ok: false };
  function finish(ok, error) {
    result.ok = ok;
    if (error) result.error = error;
    process.stdout.write(JSON.stringify(result) + "\n");
    if (!ok) process.stderr.write(`${name}: ${error}\n`);
    process.exit(ok ? 0 : 1);
  }
  function check(cond, what) {
    if (!cond) throw new Error(what);
  }
  setTimeout(() => finish(false, `timed out after ${opt.timeout}s`),
             Number(opt.timeout) * 1000).unref();
  return { opt, result, finish, check };
}

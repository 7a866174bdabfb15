// Checks the machine-readable contract with the tools other languages use:
//
//   (a) docs/asyncapi.yaml parses with the AsyncAPI parser, without an error
//       diagnostic;
//   (b) every schema of docs/schemas and docs/schemas/open compiles with
//       Ajv 2020 in strict mode (ajv-formats for the formats), all files of a
//       variant registered by $id first, as docs/contract.md ("Loading the
//       schemas") tells consumers to do;
//   (c) the golden events (testdata/events/*.json) validate against
//       event.schema.json of both variants, and the golden commands
//       (testdata/commands/*.json) get from the closed lookup-command schema
//       the verdict their .golden file records (from the Go validator); the
//       open one accepts at least those the closed one accepts;
//   (d) TypeScript types generated from the schemas (json-schema-to-typescript)
//       compile with a small consumer (tsc), which then decodes each golden
//       event (typescript.mjs).
//
// Run from anywhere: node scripts/contract-check/check.mjs (docs/asyncapi_test.go
// does, from the repository root). Exits non-zero on any failure. Install the
// pinned packages first: npm ci --prefix scripts/contract-check (make contract-tools).

import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Parser, fromFile, DiagnosticSeverity } from "@asyncapi/parser";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

import { checkTypeScript } from "./typescript.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const rel = (p) => path.relative(root, p) || ".";

// The schema format of the AsyncAPI document's payloads.
const draft2020 = "application/schema+json;version=draft-2020-12";

let failures = 0;
function fail(msg) {
  failures++;
  console.error(`FAIL ${msg}`);
}

function newAjv() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv;
}

function ajvErrors(errors) {
  return (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
}

// A schema parser for draft 2020-12 payloads: the AsyncAPI parser ships one
// for draft-07 and AsyncAPI schemas only. It checks a payload against the
// 2020-12 meta-schema (the schema as the parser resolved it, its $refs
// inlined); part (b) compiles the files themselves, strictly. For AsyncAPI
// 3 the parser calls parse() only, so parse() throws on an invalid schema:
// the parser turns that into an error diagnostic.
function draft2020SchemaParser() {
  const ajv = newAjv();
  const problems = (input) =>
    ajv.validateSchema(input.data)
      ? []
      : (ajv.errors ?? []).map((e) => ({
          message: `not a draft 2020-12 schema: ${e.instancePath || "/"} ${e.message}`,
          path: [...input.path, ...e.instancePath.split("/").filter(Boolean)],
        }));
  return {
    getMimeTypes: () => [draft2020],
    async validate(input) {
      return problems(input);
    },
    async parse(input) {
      const p = problems(input);
      if (p.length > 0) {
        throw new Error(`${input.path.join(".")}: ${p.map((d) => d.message).join("; ")}`);
      }
      return input.data;
    },
  };
}

// (a) The AsyncAPI document.
async function checkAsyncAPI() {
  const file = path.join(root, "docs", "asyncapi.yaml");
  const parser = new Parser();
  parser.registerSchemaParser(draft2020SchemaParser());
  const { document, diagnostics } = await fromFile(parser, file).parse();
  const severity = ["error", "warning", "information", "hint"];
  for (const d of diagnostics) {
    const where = d.path?.length ? d.path.join(".") : "(document)";
    const line = d.range ? `:${d.range.start.line + 1}` : "";
    const msg = `${rel(file)}${line}: ${severity[d.severity] ?? d.severity}: ${d.code}: ${d.message} at ${where}`;
    if (d.severity === DiagnosticSeverity.Error) fail(msg);
    else console.log(msg);
  }
  if (!document) {
    fail(`${rel(file)}: the AsyncAPI parser returned no document`);
    return;
  }
  const channels = document.channels().all();
  const operations = document.operations().all();
  for (const ch of channels) {
    for (const m of ch.messages().all()) {
      if (!m.hasPayload()) fail(`${rel(file)}: channel ${ch.id()} message ${m.id()}: no payload`);
    }
  }
  console.log(`ok   ${rel(file)}: AsyncAPI ${document.version()}, ${channels.length} channels, ${operations.length} operations`);
}

// (b) The schemas of one variant, compiled strictly. Returns the file name
// -> $id map and the compiled validators, by file name.
async function compileSchemas(dir) {
  const ajv = newAjv();
  const names = (await readdir(dir)).filter((f) => f.endsWith(".schema.json")).sort();
  if (names.length === 0) fail(`${rel(dir)}: no *.schema.json`);
  const ids = new Map();
  for (const name of names) {
    const schema = JSON.parse(await readFile(path.join(dir, name), "utf8"));
    if (typeof schema.$id !== "string" || !schema.$id.endsWith("/" + name)) {
      fail(`${rel(dir)}/${name}: $id ${schema.$id} does not end with /${name}`);
      continue;
    }
    ajv.addSchema(schema); // by its $id: the schemas refer to each other
    ids.set(name, schema.$id);
  }
  const validators = new Map();
  for (const [name, id] of ids) {
    try {
      validators.set(name, ajv.getSchema(id)); // compiles; throws on a strict-mode error
    } catch (e) {
      fail(`${rel(dir)}/${name}: Ajv 2020 strict: ${e.message}`);
    }
  }
  console.log(`${validators.size === names.length ? "ok  " : "FAIL"} ${rel(dir)}: ${validators.size} of ${names.length} schemas compiled (Ajv 2020, strict)`);
  return { ids, validators };
}

async function jsonFiles(dir) {
  return (await readdir(dir)).filter((f) => f.endsWith(".json")).sort().map((f) => path.join(dir, f));
}

// (c) The golden files against one variant.
async function checkGolden(variant, { validators }) {
  const event = validators.get("event.schema.json");
  const command = validators.get("lookup-command.schema.json");
  if (!event || !command) {
    fail(`${variant}: no compiled event or lookup-command schema; golden files not checked`);
    return;
  }
  const events = await jsonFiles(path.join(root, "testdata", "events"));
  if (events.length === 0) fail("testdata/events: no golden events");
  for (const f of events) {
    const data = JSON.parse(await readFile(f, "utf8"));
    if (!event(data)) fail(`${rel(f)}: ${variant} event.schema.json: ${ajvErrors(event.errors)}`);
  }
  const commands = await jsonFiles(path.join(root, "testdata", "commands"));
  let n = 0;
  for (const f of commands) {
    const golden = JSON.parse(await readFile(f.replace(/\.json$/, ".golden"), "utf8"));
    let data;
    let verdict = "invalid";
    try {
      data = JSON.parse(await readFile(f, "utf8"));
      if (command(data)) verdict = "valid";
    } catch {
      // Not JSON: invalid, as for the Go validator.
    }
    // The open variant accepts what a later v1 may add (fields, enumeration
    // values): it must accept what the closed one does, and may accept more.
    const agrees = variant === "open" ? golden.schema !== "valid" || verdict === "valid" : verdict === golden.schema;
    if (!agrees) {
      const why = verdict === "invalid" && data !== undefined ? `: ${ajvErrors(command.errors)}` : "";
      fail(`${rel(f)}: ${variant} lookup-command.schema.json says ${verdict}, the golden file ${golden.schema}${why}`);
    }
    n++;
  }
  console.log(`ok   ${variant}: ${events.length} golden events, ${n} golden commands`);
}

async function main() {
  await checkAsyncAPI();
  const closedDir = path.join(root, "docs", "schemas");
  const openDir = path.join(closedDir, "open");
  const closed = await compileSchemas(closedDir);
  const open = await compileSchemas(openDir);
  for (const id of closed.ids.values()) {
    if ([...open.ids.values()].includes(id)) fail(`$id ${id} is both a closed and an open schema's`);
  }
  await checkGolden("closed", closed);
  await checkGolden("open", open);
  await checkTypeScript(root, fail);
}

try {
  await main();
} catch (e) {
  fail(e?.stack ?? String(e));
}
if (failures > 0) {
  console.error(`contract-check: ${failures} failure(s)`);
  process.exit(1);
}
console.log("contract-check: ok");

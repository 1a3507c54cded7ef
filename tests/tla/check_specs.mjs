// tests/tla/check_specs.mjs — CI check of the TLA+ specs in tla/.
//
// Owner: the Raft/verification team (tla/, tests/tla/).
//
// Usage: node tests/tla/check_specs.mjs <tla-dir> <checker-list-file>
//
//  (a) Parses every <tla-dir>/*.tla with the tree-sitter TLA+ grammar
//      (@tlaplus/tree-sitter-tlaplus) and fails on any ERROR or MISSING
//      node, naming file:line:col.
//      Also fails on multiply-defined symbols, which SANY rejects but the
//      grammar accepts: a top-level name defined twice or already defined
//      by an EXTENDed module (e.g. `Append` with Sequences), and a
//      parameter, LET definition or bound variable reusing such a name.
//  (b) Reads every <tla-dir>/*.cfg, takes the names in its INVARIANT(S)
//      and PROPERTY/PROPERTIES sections (on the same line as the keyword or
//      on following lines, up to the next keyword), and fails unless each
//      name is a top-level operator of the matching .tla (same base name,
//      or a module it EXTENDS from <tla-dir>) taking no arguments, and is
//      listed in <checker-list-file> (the output of
//      `cairn-sim --list-checkers`: one name per line; blank lines and lines
//      starting with '#' are ignored; only the first word of a line counts).
//
// TLC itself is not run (it is not installable on the project's machines);
// see tla/README.md.  Exit status: 0 pass, 1 check failed, 2 usage or I/O
// error.  Dependencies live in tests/tla/node_modules, installed with
// `npm install --ignore-scripts` in tests/tla (prebuilt binaries).

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function usage(msg) {
  if (msg) process.stderr.write(`check_specs: ${msg}\n`);
  process.stderr.write('usage: node tests/tla/check_specs.mjs <tla-dir> <checker-list-file>\n');
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length !== 2) usage();
const [tlaDir, checkerListFile] = args;

let Parser, TlaPlus;
try {
  Parser = require('tree-sitter');
  TlaPlus = require('@tlaplus/tree-sitter-tlaplus');
} catch (e) {
  process.stderr.write(
    `check_specs: cannot load tree-sitter (${e.message}).\n` +
      'Install it with: (cd tests/tla && npm install --ignore-scripts)\n');
  process.exit(2);
}

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    usage(`cannot read ${file}: ${e.message}`);
  }
}

let entries;
try {
  entries = fs.readdirSync(tlaDir).sort();
} catch (e) {
  usage(`cannot read directory ${tlaDir}: ${e.message}`);
}
const tlaFiles = entries.filter((f) => f.endsWith('.tla')).map((f) => path.join(tlaDir, f));
const cfgFiles = entries.filter((f) => f.endsWith('.cfg')).map((f) => path.join(tlaDir, f));

const problems = [];  // "file:line:col: message"
const where = (file, row, col) => `${file}:${row + 1}:${col + 1}`;

function oneLine(text, max = 60) {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

// ---------------------------------------------------------------------------
// (a) Parse the specs.

const parser = new Parser();
parser.setLanguage(TlaPlus);

/** module name -> { file, defs: Map(name -> {arity, row, col}), extends: [names] } */
const modules = new Map();
/** file -> top-level module name */
const moduleOfFile = new Map();

/**
 * Collects ERROR and MISSING nodes as {row, col, msg}.  An ERROR node that
 * contains other errors is not reported itself: after a bad token
 * tree-sitter often wraps everything up to the end of the module in one
 * ERROR node starting at line 1, which says nothing useful.
 */
function collectErrors(node, out) {
  // Only subtrees that contain an error are worth descending into.
  if (!node.hasError && !node.isMissing) return;
  const p = node.startPosition;
  if (node.isMissing) {
    out.push({ row: p.row, col: p.column, msg: `parse error: missing ${node.type}` });
    return;
  }
  const before = out.length;
  for (const child of node.children) collectErrors(child, out);
  if (node.type === 'ERROR' && out.length === before) {
    out.push({ row: p.row, col: p.column, msg: `parse error near '${oneLine(node.text)}'` });
  }
}

const MAX_PARSE_ERRORS_PER_FILE = 10;

// Identifiers defined by the standard modules (symbolic operators left
// out).  Redefining one is an error for SANY (and so for TLC) that the
// tree-sitter grammar does not see: e.g. a message type named `Append`
// in a module that EXTENDS Sequences.
const STANDARD_MODULES = {
  Naturals: { ext: [], names: ['Nat'] },
  Integers: { ext: ['Naturals'], names: ['Int'] },
  Reals: { ext: ['Integers'], names: ['Real', 'Infinity'] },
  Sequences: { ext: ['Naturals'], names: ['Seq', 'Len', 'Append', 'Head', 'Tail', 'SubSeq', 'SelectSeq'] },
  FiniteSets: { ext: ['Naturals', 'Sequences'], names: ['IsFiniteSet', 'Cardinality'] },
  Bags: {
    ext: ['Naturals'],
    names: ['IsABag', 'BagToSet', 'SetToBag', 'BagIn', 'EmptyBag', 'CopiesIn', 'BagUnion',
            'SubBag', 'BagOfAll', 'BagCardinality'],
  },
  TLC: {
    ext: ['Naturals', 'Sequences'],
    names: ['Print', 'PrintT', 'Assert', 'JavaTime', 'TLCGet', 'TLCSet', 'Permutations',
            'SortSeq', 'RandomElement', 'Any', 'ToString', 'TLCEval'],
  },
};

function definitionsOf(moduleNode) {
  const defs = new Map();
  const ext = [];
  const declared = [];  // every top-level name, for the multiply-defined check
  const locals = [];    // parameters, LET definitions, bound variables
  const refs = [];      // names used (record fields and M!Op excluded)
  const at = (n) => ({ row: n.startPosition.row, col: n.startPosition.column });
  for (let unit of moduleNode.namedChildren) {
    if (unit.type === 'extends') {
      for (const ref of unit.namedChildren) ext.push(ref.text);
      continue;
    }
    if (unit.type === 'constant_declaration' || unit.type === 'variable_declaration') {
      for (const c of unit.namedChildren) {
        const n = c.type === 'operator_declaration' ? c.childForFieldName('name') : c;
        if (n && n.type === 'identifier') declared.push({ name: n.text, ...at(n) });
      }
      continue;
    }
    if (unit.type === 'local_definition' && unit.namedChildren.length > 0) unit = unit.namedChildren[0];
    if (!['operator_definition', 'function_definition', 'module_definition'].includes(unit.type)) continue;
    const name = unit.childForFieldName('name');
    if (!name) continue;
    if (name.type === 'identifier') declared.push({ name: name.text, ...at(name) });
    if (unit.type === 'module_definition') continue;
    const arity =
      unit.type === 'operator_definition'
        ? unit.childrenForFieldName('parameter').filter((p) => p.isNamed).length
        : 1;  // f[x \in S] == ... is a function, not a state predicate
    if (!defs.has(name.text)) defs.set(name.text, { arity, ...at(name) });
    collectLocals(unit, name.startIndex, locals);
    collectRefs(unit, refs);
  }
  return { defs, ext, declared, locals, refs };
}

/**
 * Identifiers introduced inside a definition: parameters, LET definitions
 * and their parameters, bound variables (\A, \E, CHOOSE, set and function
 * constructors).  Record field names are identifiers too, but bind nothing.
 */
function collectLocals(node, skipIndex, out) {
  if (node.type === 'identifier' && node.startIndex !== skipIndex) {
    const parent = node.parent;
    if (!parent || (parent.type !== 'record_literal' && parent.type !== 'set_of_records')) {
      out.push({ name: node.text, row: node.startPosition.row, col: node.startPosition.column });
    }
    return;
  }
  for (const c of node.namedChildren) collectLocals(c, skipIndex, out);
}

/** Identifier references, leaving out record fields (r.f, [r EXCEPT !.f])
 *  and instance-qualified names (M!Op), which name no definition here. */
function collectRefs(node, out) {
  if (node.type === 'prefixed_op' || node.type === 'except_update_record_field') return;
  if (node.type === 'identifier_ref') {
    out.push({ name: node.text, row: node.startPosition.row, col: node.startPosition.column });
    return;
  }
  const kids = node.namedChildren;
  kids.forEach((c, idx) => {
    if (node.type === 'record_value' && idx === kids.length - 1 && c.type === 'identifier_ref') return;
    collectRefs(c, out);
  });
}

function allExtendsKnown(extNames, seen = new Set()) {
  for (const e of extNames) {
    if (seen.has(e)) continue;
    seen.add(e);
    if (modules.has(e)) {
      if (!allExtendsKnown(modules.get(e).extends, seen)) return false;
    } else if (!STANDARD_MODULES[e]) {
      return false;
    }
  }
  return true;
}

/** Names a module gets from the modules it EXTENDS: name -> "where from". */
function inheritedNames(extNames, seen = new Set()) {
  const out = new Map();
  for (const e of extNames) {
    if (seen.has(e)) continue;
    seen.add(e);
    const std = STANDARD_MODULES[e];
    const local = modules.get(e);
    if (local) {
      for (const d of local.declared) if (!out.has(d.name)) out.set(d.name, `${e} (${local.file})`);
      for (const [k, v] of inheritedNames(local.extends, seen)) if (!out.has(k)) out.set(k, v);
    } else if (std) {
      for (const n of std.names) if (!out.has(n)) out.set(n, `standard module ${e}`);
      for (const [k, v] of inheritedNames(std.ext, seen)) if (!out.has(k)) out.set(k, v);
    }
  }
  return out;
}

function walkModules(file, node) {
  if (node.type === 'module') {
    const nameNode = node.childForFieldName('name');
    if (nameNode) {
      const { defs, ext, declared, locals, refs } = definitionsOf(node);
      if (!modules.has(nameNode.text)) {
        modules.set(nameNode.text, { file, defs, extends: ext, declared, locals, refs });
      }
      if (!moduleOfFile.has(file)) moduleOfFile.set(file, nameNode.text);
    }
  }
  for (const child of node.namedChildren) {
    if (child.type === 'module' || child.type === 'source_file') walkModules(file, child);
  }
}

const unparsed = new Set();
for (const file of tlaFiles) {
  const source = readText(file);
  const tree = parser.parse(source);
  const errors = [];
  collectErrors(tree.rootNode, errors);
  if (errors.length === 0 && tree.rootNode.hasError) {
    errors.push({ row: 0, col: 0, msg: 'parse error (tree-sitter did not locate it)' });
  }
  errors.sort((a, b) => a.row - b.row || a.col - b.col);
  for (const e of errors.slice(0, MAX_PARSE_ERRORS_PER_FILE)) {
    problems.push(`${where(file, e.row, e.col)}: ${e.msg}`);
  }
  if (errors.length > MAX_PARSE_ERRORS_PER_FILE) {
    problems.push(`${file}: ... and ${errors.length - MAX_PARSE_ERRORS_PER_FILE} more parse errors (fix the first one first)`);
  }
  if (errors.length > 0) unparsed.add(file);
  walkModules(file, tree.rootNode);
  if (!moduleOfFile.has(file)) {
    if (errors.length === 0) problems.push(`${where(file, 0, 0)}: no ---- MODULE ... ---- found`);
  } else {
    const expected = path.basename(file, '.tla');
    if (moduleOfFile.get(file) !== expected) {
      problems.push(`${where(file, 0, 0)}: module is named ${moduleOfFile.get(file)}, but TLC needs it to match the file name ${expected}`);
    }
  }
}

// Multiply-defined symbols (SANY rejects them; tree-sitter does not).
for (const [modName, m] of modules) {
  if (unparsed.has(m.file)) continue;
  const inherited = inheritedNames(m.extends);
  const seenHere = new Map();
  for (const d of m.declared) {
    if (seenHere.has(d.name)) {
      const first = seenHere.get(d.name);
      problems.push(`${where(m.file, d.row, d.col)}: ${d.name} is already defined in module ${modName} at ${where(m.file, first.row, first.col)}`);
    } else {
      seenHere.set(d.name, d);
      if (inherited.has(d.name)) {
        problems.push(`${where(m.file, d.row, d.col)}: ${d.name} is already defined by ${inherited.get(d.name)}, which ${modName} extends`);
      }
    }
  }
  // A parameter, LET definition or bound variable may not reuse a name
  // that is already defined where it appears.
  for (const l of m.locals) {
    if (seenHere.has(l.name)) {
      const d = seenHere.get(l.name);
      problems.push(`${where(m.file, l.row, l.col)}: ${l.name} is already defined in module ${modName} at ${where(m.file, d.row, d.col)}`);
    } else if (inherited.has(l.name)) {
      problems.push(`${where(m.file, l.row, l.col)}: ${l.name} is already defined by ${inherited.get(l.name)}, which ${modName} extends`);
    }
  }
  // Unknown names (typos).  Scoping is loose: a name bound anywhere in the
  // module counts as known everywhere.  Skipped when the module extends a
  // module that is neither in <tla-dir> nor a known standard module.
  const knowsAll = allExtendsKnown(m.extends);
  if (!knowsAll) continue;
  const localNames = new Set(m.locals.map((l) => l.name));
  for (const r of m.refs) {
    if (!seenHere.has(r.name) && !inherited.has(r.name) && !localNames.has(r.name)) {
      problems.push(`${where(m.file, r.row, r.col)}: unknown name ${r.name}`);
    }
  }
}

/** Looks `name` up in module `mod` and, transitively, the modules it extends. */
function lookup(mod, name, seen = new Set()) {
  if (seen.has(mod)) return null;
  seen.add(mod);
  const m = modules.get(mod);
  if (!m) return null;
  if (m.defs.has(name)) return { ...m.defs.get(name), file: m.file };
  for (const e of m.extends) {
    const r = lookup(e, name, seen);
    if (r) return r;
  }
  return null;
}

// ---------------------------------------------------------------------------
// (b) Invariant names in the .cfg files.

const CFG_KEYWORDS = new Set([
  'CONSTANT', 'CONSTANTS', 'INIT', 'NEXT', 'SPECIFICATION', 'INVARIANT', 'INVARIANTS',
  'PROPERTY', 'PROPERTIES', 'SYMMETRY', 'VIEW', 'CONSTRAINT', 'CONSTRAINTS',
  'ACTION_CONSTRAINT', 'ACTION_CONSTRAINTS', 'CHECK_DEADLOCK', 'POSTCONDITION',
  'POSTCONDITIONS', 'ALIAS', 'TYPE', 'TYPE_CONSTRAINT',
]);
const NAME_SECTIONS = new Set(['INVARIANT', 'INVARIANTS', 'PROPERTY', 'PROPERTIES']);

/** Blanks out \* line comments and (* ... *) block comments (nested), keeping positions. */
function stripCfgComments(text) {
  const out = text.split('');
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (depth === 0 && text.startsWith('\\*', i)) {
      while (i < text.length && text[i] !== '\n') out[i++] = ' ';
      i--;
    } else if (text.startsWith('(*', i)) {
      depth++;
      out[i] = out[i + 1] = ' ';
      i++;
    } else if (depth > 0 && text.startsWith('*)', i)) {
      depth--;
      out[i] = out[i + 1] = ' ';
      i++;
    } else if (depth > 0 && text[i] !== '\n') {
      out[i] = ' ';
    }
  }
  return out.join('');
}

/** Returns [{name, kind, row, col}] for every name in INVARIANT/PROPERTY sections. */
function cfgNames(text) {
  const names = [];
  const lines = stripCfgComments(text).split('\n');
  let section = null;
  lines.forEach((line, row) => {
    const re = /[A-Za-z_0-9!]+|\S/g;
    let m;
    while ((m = re.exec(line)) !== null) {
      const tok = m[0];
      if (CFG_KEYWORDS.has(tok)) {
        section = tok;
        continue;
      }
      if (!NAME_SECTIONS.has(section) || tok === ',') continue;
      names.push({ name: tok, kind: section.startsWith('PROP') ? 'property' : 'invariant', row, col: m.index });
    }
  });
  return names;
}

function readCheckers(file) {
  const set = new Set();
  for (const raw of readText(file).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    set.add(line.split(/\s+/)[0]);
  }
  return set;
}

const checkers = readCheckers(checkerListFile);
let namesChecked = 0;

for (const cfg of cfgFiles) {
  const base = path.basename(cfg, '.cfg');
  const tla = path.join(tlaDir, `${base}.tla`);
  const names = cfgNames(readText(cfg));
  if (!moduleOfFile.has(tla)) {
    if (unparsed.has(tla)) {
      problems.push(`${where(cfg, 0, 0)}: names not checked: ${tla} did not parse`);
    } else {
      problems.push(`${where(cfg, 0, 0)}: no matching spec ${tla}`);
    }
    continue;
  }
  const mod = moduleOfFile.get(tla);
  for (const { name, kind, row, col } of names) {
    namesChecked++;
    if (!/^[A-Za-z_0-9]*[A-Za-z][A-Za-z_0-9]*$/.test(name)) {
      problems.push(`${where(cfg, row, col)}: '${name}' is not an operator name`);
      continue;
    }
    const def = lookup(mod, name);
    if (!def) {
      problems.push(`${where(cfg, row, col)}: ${kind} ${name} is not defined in ${tla}`);
    } else if (def.arity !== 0) {
      problems.push(`${where(cfg, row, col)}: ${kind} ${name} (${where(def.file, def.row, def.col)}) takes arguments; TLC needs a definition without any`);
    }
    if (!checkers.has(name)) {
      problems.push(`${where(cfg, row, col)}: ${kind} ${name} has no simulator checker of that name (not in ${checkerListFile})`);
    }
  }
}

// ---------------------------------------------------------------------------
// Report.

if (tlaFiles.length === 0) problems.push(`${tlaDir}: no .tla files`);

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`${p}\n`);
  process.stderr.write(`tla: FAILED, ${plural(problems.length, 'problem')} ` +
    `(${plural(tlaFiles.length, 'spec')}, ${plural(namesChecked, 'invariant')} checked)\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(`tla: ${plural(tlaFiles.length, 'spec')} parsed, ` +
    `${plural(namesChecked, 'invariant')} checked, all have simulator checkers\n`);
}

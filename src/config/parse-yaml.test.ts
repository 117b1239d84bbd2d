/**
 * The configuration parser (js-yaml with `yaml`'s core schema) reads every file as `yaml` did:
 * each case is parsed by both, and the values (or the errors, with their line and column) must
 * be the same. The cases are where YAML libraries differ.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { parseYaml } from './parse-yaml.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** What certpilot read before (`yaml`): the value, or the issues it reported. */
function withYaml(text: string): { value: unknown } | { issues: { path: string; message: string }[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { issues: doc.errors.map((e) => ({ path: e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '', message: e.message.split('\n')[0] ?? e.message })) };
  }
  return { value: doc.toJS() as unknown };
}

async function parseError(text: string): Promise<ConfigError> {
  try {
    await parseYaml(text, '/etc/certpilot.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_CONFIG_PARSE');
    return err;
  }
  assert.fail(`expected a parse error for ${JSON.stringify(text)}`);
}

/** Asserts both parsers read `text` the same and returns the value. */
async function same(text: string): Promise<unknown> {
  const before = withYaml(text);
  assert.ok('value' in before, `yaml refuses ${JSON.stringify(text)}`);
  const value = await parseYaml(text, '/etc/certpilot.yaml');
  assert.deepStrictEqual(value, before.value, `parsed differently: ${JSON.stringify(text)}`);
  return value;
}

test('scalars mean what they meant with yaml (YAML 1.2 core): dates and yes/no stay strings, 0o17 is octal, 017 decimal', async () => {
  const cases: [string, unknown][] = [
    ['2001-12-14', '2001-12-14'],
    ['2001-12-14T21:59:43.10-05:00', '2001-12-14T21:59:43.10-05:00'],
    ['yes', 'yes'],
    ['no', 'no'],
    ['on', 'on'],
    ['off', 'off'],
    ['Y', 'Y'],
    ['true', true],
    ['False', false],
    ['TRUE', true],
    ['tRue', 'tRue'],
    ['0o17', 15],
    ['017', 17],
    ['0x1F', 31],
    ['-0x1F', '-0x1F'],
    ['+0o17', '+0o17'],
    ['0b101', '0b101'],
    ['1_000', '1_000'],
    ['+12', 12],
    ['-0', -0],
    ['~', null],
    ['null', null],
    ['NULL', null],
    ['', null],
    ['.inf', Infinity],
    ['-.Inf', -Infinity],
    ['.NaN', NaN],
    ['1e3', 1000],
    ['1e400', Infinity],
    ['.5', 0.5],
    ['1.', 1],
    ['1:20', '1:20'],
    ['0600', 600],
    ['"0600"', '0600'],
    ['!!str 5', '5'],
    ['!!int "7"', 7],
  ];
  for (const [scalar, expected] of cases) {
    const value = await same(`v: ${scalar}\n`);
    assert.deepStrictEqual(value, { v: expected }, `v: ${scalar}`);
  }
  // `<<` is a plain key in YAML 1.2 (no merge).
  assert.deepStrictEqual(await same('<<: {x: 1}\nb: 2\n'), { '<<': { x: 1 }, b: 2 });
  assert.deepStrictEqual(await same('block: |\n  line one\n  line two\nfolded: >-\n  a\n  b\nquoted: "\\u00e9\\x41"\n'), { block: 'line one\nline two\n', folded: 'a b', quoted: 'éA' });
  assert.deepStrictEqual(await same('\ufeffa: 1\r\nb: [x, "y"]\r\n'), { a: 1, b: ['x', 'y'] });
});

test('anchors and aliases resolve as with yaml; an empty file or a comment alone is null', async () => {
  assert.deepStrictEqual(await same('base: &b {keyType: ec-p256, deploy: [files]}\nweb: *b\nlist: [*b, *b]\n'), {
    base: { keyType: 'ec-p256', deploy: ['files'] },
    web: { keyType: 'ec-p256', deploy: ['files'] },
    list: [
      { keyType: 'ec-p256', deploy: ['files'] },
      { keyType: 'ec-p256', deploy: ['files'] },
    ],
  });
  assert.equal(await same(''), null);
  assert.equal(await same('# nothing here\n'), null);
  assert.equal(await same('---\n'), null);
});

test('errors keep yaml\'s messages and line/column: duplicate keys, several documents, bad syntax', async () => {
  const cases = [
    'acme:\n  email: a@example.com\n  email: b@example.com\n', // duplicate key, line 3
    'a: {b: 1, b: 2}\n',
    'a: 1\n---\nb: 2\n', // several documents
    'acme:\n  email: [unclosed\n',
    "a: 'open\n",
    'a:\n\t- 1\n', // a tab as indentation
    '- a\nb: 1\n',
    'a: 1\n  b: 2\n',
    'a: @x\n',
  ];
  for (const text of cases) {
    const before = withYaml(text);
    assert.ok('issues' in before, `yaml accepts ${JSON.stringify(text)}`);
    const err = await parseError(text);
    // The first problem only: a syntax error throws the parser off for the rest of the file.
    const [first, ...rest] = before.issues;
    const expected = { path: first?.path ?? '', message: `${(first?.message ?? '').replace(/:$/, '')}${rest.length > 0 ? ` (and ${rest.length} more after it, most likely all caused by this one)` : ''}` };
    assert.deepStrictEqual(err.issues, [expected], `issues of ${JSON.stringify(text)}`);
    assert.match(err.issues[0]?.path ?? '', /^line \d+, column \d+$/);
  }
  const duplicate = await parseError('acme:\n  email: a@example.com\n  email: b@example.com\n');
  assert.deepStrictEqual(duplicate.issues[0], { path: 'line 3, column 3', message: 'Map keys must be unique at line 3, column 3' });
});

test('a {name} placeholder unquoted in a flow map: one problem, and the hint quotes the value', async () => {
  const err = await parseError('deployers:\n  vol: { type: files, dir: /srv/certs/{name} }\ncertificates: [ { name: www, domains: [www.example.test] } ]\n');
  assert.equal(err.issues.length, 1, err.message);
  assert.match(err.issues[0]?.message ?? '', /\(and \d+ more after it, most likely all caused by this one\)$/);
  assert.equal(err.hint, 'Quote a value holding { or } inside a { … } map: dir: "/srv/certs/{name}". Then fix what remains at the line and column shown.');
  // Quoted, it parses; a parse error elsewhere gets no such hint.
  assert.deepStrictEqual(await parseYaml('vol: { type: files, dir: "/srv/certs/{name}" }\n', 'x'), { vol: { type: 'files', dir: '/srv/certs/{name}' } });
  assert.equal((await parseError('acme:\n  email: [unclosed\n')).hint, 'Fix the YAML syntax at the line and column shown.');
});

test('what js-yaml refuses and yaml accepted is still an error, with js-yaml\'s line and column', async () => {
  // Two keys that are one key in the parsed object ("1" twice): yaml kept the last one silently.
  const twice = await parseError("1: a\n'1': b\n");
  assert.deepStrictEqual(twice.issues, [{ path: 'line 2, column 1', message: 'duplicated mapping key' }]);
  // A tag that means nothing to certpilot.
  const tag = await parseError('a: 1\nb: !custom x\n');
  assert.equal(tag.issues.length, 1);
  assert.match(tag.issues[0]?.message ?? '', /unknown tag !<!custom>/);
  assert.match(tag.issues[0]?.path ?? '', /^line 2, column \d+$/);
  // An alias to no anchor made yaml's toJS throw (no ConfigError at all); it is a parse error now.
  const alias = await parseError('a: 1\nb: *nowhere\n');
  assert.deepStrictEqual(alias.issues, [{ path: 'line 2, column 12', message: 'unidentified alias "nowhere"' }]);
});

test('a %YAML directive goes to yaml whole: %YAML 1.1 makes yes a boolean there', async () => {
  assert.deepStrictEqual(await same('%YAML 1.1\n---\na: yes\nb: 0o17\n'), { a: true, b: '0o17' });
});

test('aliases may repeat a node (150 uses); aliases that expand exponentially are refused, not walked', async () => {
  const many = `d: &d {deploy: [files]}\nc:\n${'  - *d\n'.repeat(150)}`;
  const value = (await parseYaml(many, '/etc/certpilot.yaml')) as { c: unknown[] };
  assert.equal(value.c.length, 150);
  assert.deepStrictEqual(value.c[149], { deploy: ['files'] });

  const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++) laughs.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  const err = await parseError(`${laughs.join('\n')}\n`);
  assert.match(err.issues[0]?.message ?? '', /aliases expand to more than \d+ values/);
});

test('the configuration files in the repository parse the same', async () => {
  for (const path of ['examples/compose/certpilot.yaml', 'src/scheduling/kubernetes-manifests/fixtures/certpilot.yaml']) {
    const text = await readFile(join(root, path), 'utf8');
    const value = await same(text);
    assert.ok(value !== null && typeof value === 'object', path);
  }
});

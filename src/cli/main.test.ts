import assert from 'node:assert/strict';
import { configSchema } from '../config/schema.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertpilotError } from '../errors.js';
import { tempDir } from '../testing/temp-dir.js';
import { checkValues, EVERY_COMMAND, FLAGS, overridesOf, type FlagSpec } from './flags.js';
import { COMMANDS, EXIT, main, report } from './main.js';
import type { Output } from './output.js';

function capture(): Output & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

test('usage errors exit 2 with a code and a hint, never a stack trace', async () => {
  const o = capture();
  assert.equal(await main(['frobnicate'], {}, o), EXIT.usage);
  assert.match(o.stderr[0] ?? '', /^error ERR_CLI_USAGE: cli: unknown command "frobnicate"/);
  assert.match(o.stderr[1] ?? '', /^ {2}hint: Use one of: issue, renew/);
  assert.equal(o.stderr.some((l) => /\n\s+at /.test(l)), false);

  const bad = capture();
  assert.equal(await main(['renew', '--no-such-flag'], {}, bad), EXIT.usage);
  assert.equal(bad.stderr[0], 'error ERR_CLI_USAGE: cli: unknown flag --no-such-flag for renew');
  assert.equal(bad.stderr[1], '  hint: `certpilot renew --help` lists the flags it takes.');
  const missing = capture();
  assert.equal(await main(['status', '--config'], {}, missing), EXIT.usage);
  assert.equal(missing.stderr[0], 'error ERR_CLI_USAGE: cli: --config needs a value (FILE), and none was given');
  assert.match(missing.stderr[1] ?? '', /hint: Write it as --config FILE \(or --config=FILE\)/);
  const short = capture();
  assert.equal(await main(['issue', '-d'], {}, short), EXIT.usage);
  assert.equal(short.stderr[0], 'error ERR_CLI_USAGE: cli: --domain needs a value (NAME), and none was given');
});

test('"did you mean" for a misspelt command or flag', async () => {
  const command = capture();
  assert.equal(await main(['stauts'], {}, command), EXIT.usage);
  assert.equal(command.stderr[0], 'error ERR_CLI_USAGE: cli: unknown command "stauts" (did you mean "status"?)');
  const flag = capture();
  assert.equal(await main(['renew', '--stat-dir', '/x'], {}, flag), EXIT.usage);
  assert.equal(flag.stderr[0], 'error ERR_CLI_USAGE: cli: unknown flag --stat-dir for renew (did you mean --state-dir?)');
  // A misspelt plug-in type in the configuration, and a misspelt solver name a certificate uses.
  const dir = await tempDir('certpilot-cli-');
  const file = join(dir, 'c.yaml');
  await writeFile(file, 'solvers:\n  web: { type: standlone }\ncertificates: [{ domains: [www.example.com], solver: wbe }]\n');
  const types = capture();
  assert.equal(await main(['config', 'check', '--config', file], {}, types), EXIT.usage);
  assert.match(types.stderr.join('\n'), /solvers\.web\.type: is not a plug-in of this kind \(did you mean "standalone"\?\); use one of standalone, /);
  assert.match(types.stderr.join('\n'), /certificates\[0\]\.solver: "wbe" is not a solver defined under `solvers` \(did you mean "web"\?\)/);
  const far = capture();
  assert.equal(await main(['frobnicate'], {}, far), EXIT.usage);
  assert.doesNotMatch(far.stderr[0] ?? '', /did you mean/, 'no guess when nothing is close');
});

test('every --help ends with examples of that command', async () => {
  for (const name of ['', ...Object.keys(COMMANDS)]) {
    const o = capture();
    assert.equal(await main(name ? [name, '--help'] : ['--help'], {}, o), EXIT.ok);
    const text = o.stdout.join('\n');
    const examples = /\nExamples:\n((?: {2}(?:sudo )?certpilot .+\n?)+)$/.exec(text);
    assert.ok(examples, `certpilot ${name} --help ends with examples:\n${text.slice(-300)}`);
    if (name) assert.ok((examples[1] ?? '').split('\n').every((l) => l === '' || l.includes(`certpilot ${name}`)), `examples of ${name} run ${name}`);
  }
});

test('--json: a failed run prints its error as JSON on stdout too, and renew never suggests -d (it renews the one-offs issue -d issued)', async () => {
  const usage = capture();
  assert.equal(await main(['status', '--json', '--nope'], {}, usage), EXIT.usage);
  const parsed = JSON.parse(usage.stdout.join('\n')) as { error: { code: string; message: string; hint: string } };
  assert.equal(parsed.error.code, 'ERR_CLI_USAGE');
  assert.match(parsed.error.hint, /certpilot status --help/);
  assert.match(usage.stderr[0] ?? '', /^error ERR_CLI_USAGE/, 'people still read it on stderr');

  const dir = await tempDir('certpilot-cli-');
  const file = join(dir, 'c.yaml');
  await writeFile(file, `stateDir: ${JSON.stringify(join(dir, 'state'))}\ncertificates: []\n`);
  const none = capture();
  assert.equal(await main(['renew', '--config', file, '--json'], {}, none), EXIT.usage);
  const error = (JSON.parse(none.stdout.join('\n')) as { error: { code: string; hint: string } }).error;
  assert.equal(error.code, 'ERR_CLI_USAGE');
  assert.doesNotMatch(error.hint, /renew[^.]*-d\b|give names with -d/, 'renew refuses -d: its hint must not offer it');
  assert.match(error.hint, /and the one-offs `certpilot issue -d NAME …` issued into this state \(.*state\); there are none/, 'and says that renew renews the one-offs too');
  const renewD = capture();
  assert.equal(await main(['renew', '-d', 'example.com', '--config', file], {}, renewD), EXIT.usage, 'renew really refuses -d');
});

test('a certificate name that is not configured is a usage error (exit 2) that lists the configured ones', async () => {
  const dir = await tempDir('certpilot-cli-');
  const file = join(dir, 'c.yaml');
  await writeFile(file, `stateDir: ${JSON.stringify(join(dir, 'state'))}\ncertificates: [{ name: www, domains: [www.example.com] }]\n`);
  const out = capture();
  assert.equal(await main(['deploy', 'nosuch', '--config', file], {}, out), EXIT.usage, out.stderr.join('\n'));
  assert.match(out.stderr.join('\n'), /error ERR_CERT_UNKNOWN: cli: no configured certificate named "nosuch"\n {2}hint: Configured names: www\./);
});

test('a bad configuration names the field and the fix and exits 2', async () => {
  const dir = await tempDir('certpilot-cli-');
  const file = join(dir, 'c.yaml');
  await writeFile(file, 'acme: { directoryUrl: nope }\ncertificates: [{ domains: ["${VHOST}"] }]\n');
  const o = capture();
  assert.equal(await main(['config', 'check', '--config', file], {}, o), EXIT.usage);
  const text = o.stderr.join('\n');
  assert.match(text, /acme\.directoryUrl: "nope" is neither an http\(s\) URL/);
  assert.match(text, /certificates\[0\]\.domains\[0\]: environment variable VHOST is not set/);

  const ok = capture();
  assert.equal(await main(['config', 'check', '--config', file], { VHOST: 'example.com', CERTPILOT_DIRECTORY_URL: 'letsencrypt-staging' }, ok), EXIT.ok);
  assert.match(ok.stdout.join('\n'), /cert +example\.com: example\.com \(ec-p256; solver default; deploy none\)/);
});

test('config check lists the notifiers and warns, without the URL, for a plain http:// webhook', async () => {
  const dir = await tempDir('certpilot-cli-');
  const file = join(dir, 'c.yaml');
  await writeFile(join(dir, 'hook.url'), 'http://hooks.internal.example/T0/s3cr3tpath\n');
  await writeFile(
    file,
    'notifiers:\n  hook: { type: webhook, urlFile: hook.url }\n  safe: { type: webhook, url: "https://hooks.example.com/x", on: [failure, expiring] }\n' +
      'defaults: { notify: [hook, safe] }\ncertificates: [{ domains: [example.com] }]\n',
  );
  const o = capture();
  assert.equal(await main(['config', 'check', '--config', file], {}, o), EXIT.ok, o.stderr.join('\n'));
  const out = o.stdout.join('\n');
  assert.match(out, /^notifier +hook: webhook \(on failure\)$/m);
  assert.match(out, /^notifier +safe: webhook \(on failure, expiring\)$/m);
  const err = o.stderr.join('\n');
  assert.match(err, /warning: notifiers\.hook\.urlFile: a plain http:\/\/ URL sends every event \(and its signature\) unencrypted; use https/);
  assert.doesNotMatch(err, /safe/);
  assert.doesNotMatch(out + err, /s3cr3tpath|hooks\.internal/, 'the URL from the file is never printed');
});

test('--help and --version', async () => {
  const o = capture();
  assert.equal(await main(['--version'], {}, o), EXIT.ok);
  assert.match(o.stdout[0] ?? '', /^\d+\.\d+\.\d+$/);
  const h = capture();
  assert.equal(await main(['--help'], {}, h), EXIT.ok);
  assert.match(h.stdout[0] ?? '', /Usage: certpilot <command>/);
  assert.equal(await main([], {}, capture()), EXIT.usage);
});

test('exit codes: rate limits are "try later" (75), other failures 1; --verbose adds causes', () => {
  const o = capture();
  assert.equal(report(new CertpilotError('ERR_ACME_RATE_LIMITED', 'acme: slow down'), false, o), EXIT.tempFail);
  // The API server's 429 and 5xx say "later" (retryable); its 403 does not.
  assert.equal(report(new CertpilotError('ERR_KUBERNETES_API', 'kubernetes: get secrets/x: HTTP 503', { retryable: true }), false, o), EXIT.tempFail);
  assert.equal(report(new CertpilotError('ERR_KUBERNETES_API', 'kubernetes: get secrets/x: forbidden'), false, o), EXIT.failed);
  assert.equal(report(new CertpilotError('ERR_ACME_NETWORK', 'acme: down', { cause: new Error('ECONNREFUSED') }), true, o), EXIT.failed);
  assert.ok(o.stderr.some((l) => l.startsWith('caused by: Error: ECONNREFUSED')));
  assert.equal(report(new Error('boom'), false, o), EXIT.failed);
  assert.ok(o.stderr.includes('error ERR_INTERNAL: boom'));
});

test('per-command --help lists that command\'s usage and only its flags', async () => {
  const renew = capture();
  assert.equal(await main(['renew', '--help'], {}, renew), EXIT.ok);
  const text = renew.stdout.join('\n');
  assert.match(text, /^Usage: certpilot renew \[options\]/);
  assert.match(text, /--dry-run +renew against the CA's staging directory/);
  assert.match(text, /--concurrency N/);
  assert.doesNotMatch(text, /--reason|--with-certificate-key|-d, --domain/);

  const revoke = capture();
  assert.equal(await main(['help', 'revoke'], {}, revoke), EXIT.ok);
  assert.match(revoke.stdout.join('\n'), /^Usage: certpilot revoke NAME \[options\][\s\S]*--reason NAME[\s\S]*--with-certificate-key/);

  // The top-level help lists every command and points at the per-command help.
  const top = capture();
  assert.equal(await main(['-h'], {}, top), EXIT.ok);
  for (const name of Object.keys(COMMANDS)) assert.match(top.stdout.join('\n'), new RegExp(`^  ${name} `, 'm'));
  assert.match(top.stdout.join('\n'), /certpilot <command> --help/);

  for (const name of ['frob', 'constructor', 'toString', '__proto__']) {
    const unknown = capture();
    assert.equal(await main([name, '--help'], {}, unknown), EXIT.usage, name);
    assert.match(unknown.stderr[0] ?? '', new RegExp(`unknown command "${name}"`));
    assert.equal(await main([name], {}, capture()), EXIT.usage, name);
  }
});

test('each command\'s help says what a flag does for that command, never what it does for another', async () => {
  const renew = capture();
  assert.equal(await main(['renew', '--help'], {}, renew), EXIT.ok);
  const lines = renew.stdout.join('\n').split('\n');
  const line = (flag: string): string => lines.find((l) => new RegExp(`^  (-\\w, )?\\s*--${flag}\\b`).test(l)) ?? assert.fail(`renew --help lists --${flag}:\n${lines.join('\n')}`);
  assert.match(line('name'), /-n, --name NAME +which certificates to renew \(repeat/);
  assert.doesNotMatch(line('name'), /import|-d\b|with -d/);
  assert.match(line('force'), /--force +renew even when not due/);
  assert.doesNotMatch(line('force'), /deploy/);
  assert.doesNotMatch(line('dry-run'), /import/);
  const deploy = capture();
  assert.equal(await main(['deploy', '--help'], {}, deploy), EXIT.ok);
  assert.match(deploy.stdout.join('\n'), /--force +run every deployer again/);
  assert.doesNotMatch(deploy.stdout.join('\n'), /--force +renew/);

  // No flag line of any command is labelled with another command (`deploy: …`, `import files: …`).
  const commands = Object.keys(COMMANDS);
  for (const command of commands) {
    const help = capture();
    assert.equal(await main([command, '--help'], {}, help), EXIT.ok);
    const text = help.stdout.join('\n');
    const options = text.slice(text.indexOf('\nOptions:\n'), text.indexOf('\nExit codes:'));
    for (const other of commands.filter((c) => c !== command)) {
      const label = new RegExp(`(^|[;(] *| {2})${other.replace('-', '\\-')}( [a-z]+)?( --[a-z-]+)?:`, 'm');
      assert.doesNotMatch(options, label, `certpilot ${command} --help describes a flag as ${other} uses it:\n${options}`);
    }
  }
  // A per-command line belongs to a command that takes the flag.
  for (const [flag, spec] of Object.entries(FLAGS) as [string, FlagSpec][]) {
    for (const command of Object.keys(spec.helpFor ?? {})) assert.ok(spec.commands === EVERY_COMMAND || spec.commands.includes(command), `--${flag}: help for ${command}, which does not take it`);
  }
});

test('a flag another command takes is a usage error naming the flag and the command', async () => {
  for (const [argv, message] of [
    [['renew', '--reason', 'x'], /^error ERR_CLI_USAGE: cli: renew does not take --reason$/],
    [['account', 'show', '-d', 'a.test'], /^error ERR_CLI_USAGE: cli: account does not take -d \(--domain\)$/],
    [['status', '--dry-run'], /^error ERR_CLI_USAGE: cli: status does not take --dry-run$/],
    [['config', 'check', '--with-certificate-key'], /^error ERR_CLI_USAGE: cli: config does not take --with-certificate-key$/],
    [['issue', '--key-type', 'rsa-2048'], /^error ERR_CLI_USAGE: cli: --key-type only applies with -d \(--domain\)$/],
    // config check checks every configured certificate: --name names only a one-off's (-d).
    [['config', 'check', '--name', 'web'], /^error ERR_CLI_USAGE: cli: --name only applies with -d \(--domain\)$/],
  ] as const) {
    const o = capture();
    assert.equal(await main(argv, {}, o), EXIT.usage, argv.join(' '));
    assert.match(o.stderr[0] ?? '', message);
    assert.match(o.stderr[1] ?? '', /hint: /);
  }
});

test('numbers that are not whole or out of range are usage errors naming the flag', async () => {
  for (const [argv, flag, range] of [
    [['renew', '--concurrency', 'abc'], '--concurrency', '1 to 64'],
    [['renew', '--concurrency', '0'], '--concurrency', '1 to 64'],
    [['renew', '--concurrency', '2.5'], '--concurrency', '1 to 64'],
    [['renew', '--concurrency', '65'], '--concurrency', '1 to 64'],
    [['issue', '-d', 'a.test', '--http-01-port', '70000'], '--http-01-port', '1 to 65535'],
    [['issue', '-d', 'a.test', '--http-01-port=-1'], '--http-01-port', '1 to 65535'],
    [['issue', '-d', 'a.test', '--http-01-port', '0x50'], '--http-01-port', '1 to 65535'],
  ] as const) {
    const o = capture();
    assert.equal(await main(argv, {}, o), EXIT.usage, argv.join(' '));
    assert.match(o.stderr[0] ?? '', new RegExp(`^error ERR_CLI_USAGE: cli: ${flag} must be a whole number from ${range}, not "`), argv.join(' '));
  }
  assert.deepEqual(checkValues('renew', { concurrency: '8' }, new Map()), { concurrency: 8 });
});

test('the flag table: every command it names exists, and the flags land in the configuration overrides', () => {
  for (const [flag, spec] of Object.entries(FLAGS) as [string, FlagSpec][]) {
    if (spec.commands === EVERY_COMMAND) continue;
    for (const command of spec.commands) assert.ok(COMMANDS[command], `--${flag} names unknown command ${command}`);
    if (spec.requires) assert.ok(spec.requires in FLAGS, `--${flag} requires an unknown flag`);
  }
  const values = checkValues(
    'issue',
    { 'state-dir': '/s', directory: 'letsencrypt', 'ca-bundle': '/ca.pem', email: 'a@b.test', 'agree-tos': true, verbose: true, domain: ['a.test', 'b.test'], name: ['ab'], 'key-type': 'rsa-2048', profile: 'shortlived', 'reuse-key': true, 'http-01-port': '8080', 'http-01-address': '127.0.0.1', webroot: '/w' },
    new Map(),
  );
  assert.deepEqual(overridesOf(values), {
    set: { stateDir: '/s', 'acme.directoryUrl': 'letsencrypt', 'acme.caBundle': '/ca.pem', 'acme.email': 'a@b.test', 'acme.termsOfServiceAgreed': true, logLevel: 'debug' },
    certificate: { domains: ['a.test', 'b.test'], name: 'ab', keyType: 'rsa-2048', profile: 'shortlived', reuseKey: true },
    http01Port: 8080,
    http01Host: '127.0.0.1',
    webroot: '/w',
  });
  // An explicit --log-level beats --verbose's debug.
  assert.equal(overridesOf({ verbose: true, 'log-level': 'trace' }).set?.logLevel, 'trace');
  // Every field a flag sets by path exists in the configuration schema.
  for (const [flag, spec] of Object.entries(FLAGS) as [string, FlagSpec][]) {
    if (!spec.config) continue;
    let node: unknown = configSchema();
    for (const key of spec.config.split('.')) {
      const shape = unwrapShape(node);
      assert.ok(shape && key in shape, `--${flag}: ${spec.config} is not a configuration field`);
      node = shape[key];
    }
  }
  assert.throws(() => overridesOf({ domain: ['a.test'], name: ['a', 'b'] }), /at most one --name/);
});

/** The object shape under zod wrappers (default, prefault, optional), if any. */
function unwrapShape(node: unknown): Record<string, unknown> | undefined {
  let n = node as { shape?: Record<string, unknown>; unwrap?: () => unknown; def?: { innerType?: unknown } } | undefined;
  for (let i = 0; i < 5 && n && !n.shape; i++) n = (n.def?.innerType ?? n.unwrap?.()) as typeof n;
  return n?.shape;
}

test('each --help says the exit code a SIGINT/SIGTERM gives that command: 0 for daemon and serve (their normal end), 130 for the others', async () => {
  for (const [command, stop] of [
    ['daemon', /Exit codes: 0 stopped by SIGINT\/SIGTERM \(the work in flight stops cleanly\), [^]*; a second signal: 130 at once\./],
    ['serve', /; stopped by SIGINT\/SIGTERM: 0 /],
    ['renew', /; 130 stopped by SIGINT\/SIGTERM \(challenges cleaned up, locks released\)\./],
    ['deploy', /; 130 stopped by SIGINT\/SIGTERM/],
  ] as const) {
    const help = capture();
    assert.equal(await main([command, '--help'], {}, help), EXIT.ok);
    const text = help.stdout.join('\n');
    assert.match(text, stop, `certpilot ${command} --help`);
    if (command === 'daemon' || command === 'serve') assert.doesNotMatch(text, /130 stopped by/, `certpilot ${command} --help`);
    // The daemon waits out a rate limit or an unreachable CA or API server instead of exiting 75.
    if (command === 'daemon') assert.doesNotMatch(text, /\b75\b/, 'certpilot daemon --help lists no exit 75');
  }
});

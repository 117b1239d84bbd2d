import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { before, describe, it } from 'node:test';
import { pino } from 'pino';
import { systemClock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import { findPlugin } from '../../plugins/registry.js';
import type { CertificateBundle, StoredCertificate } from '../../storage/certificate-store.js';
import { FilesystemCertificateStore } from '../../storage/backends/filesystem/filesystem-certificate-store.js';
import { MemoryStateBackend } from '../../storage/backends/memory/memory-state-backend.js';
import { StateStore } from '../../storage/state-store.js';
import { makeTestBundle } from '../../testing/certificate-fixtures.js';
import { tempDir } from '../../testing/temp-dir.js';
import { HookDeployer, type HookDeployerOptions } from './hook-deployer.js';
import { hookSchema } from './schema.js';

interface LogLine {
  level: number;
  msg: string;
  stream?: string;
  line?: string;
  deployer?: string;
}

function capture(): { logger: Logger; lines: LogLine[]; text: () => string } {
  const chunks: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  // As compose gives it: a child logger that names the deployer.
  const logger = pino({ level: 'debug', base: undefined }, dest).child({ deployer: 'reload' });
  return {
    logger,
    get lines() {
      return chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine);
    },
    text: () => chunks.join(''),
  };
}

const PROCESS_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8', AWS_SECRET_ACCESS_KEY: 'do-not-pass', CERTPILOT_EAB_HMAC_KEY: 'do-not-pass', SHLVL: '3' };

function hook(options: Partial<HookDeployerOptions> & Pick<HookDeployerOptions, 'command'>): HookDeployer {
  return new HookDeployer({ id: 'reload', processEnv: PROCESS_ENV, logger: silentLogger, timeoutSeconds: 30, ...options });
}

/** True while `pid` is a live (non-zombie) process. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Live processes whose process group is `pgid`. */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return fields[0] !== 'Z' && Number(fields[2]) === pgid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Waits (polling, bounded) until none of `pids` is alive; returns the ones still alive. */
async function gone(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  return pids.filter(alive);
}

describe('HookDeployer', () => {
  let certificate: StoredCertificate;
  let bundle: CertificateBundle;
  let stateDir: string;

  before(async () => {
    stateDir = await tempDir('certpilot-hook-');
    bundle = makeTestBundle({ domains: ['hook.test', 'www.hook.test'] });
    certificate = await new FilesystemCertificateStore({ stateDir }).save('dev', bundle);
  });

  it('gives the hook the CERTPILOT_* and certbot variables, the passEnv ones and its env, and nothing else', async () => {
    const log = capture();
    const result = await hook({ command: ['/usr/bin/env'], env: { COMPOSE_PROJECT_NAME: 'dev' }, logger: log.logger }).deploy(certificate);
    assert.match(result.message, /\/usr\/bin\/env exited 0 in [\d.]+ s \(version 1\)/);
    const env = Object.fromEntries(log.lines.filter((l) => l.stream === 'stdout').map((l) => (l.line ?? '').split(/=(.*)/s).slice(0, 2)));
    assert.deepEqual(env, {
      PATH: PROCESS_ENV.PATH,
      HOME: '/root',
      LANG: 'C.UTF-8',
      COMPOSE_PROJECT_NAME: 'dev',
      CERTPILOT_NAME: 'dev',
      CERTPILOT_DOMAINS: 'hook.test www.hook.test',
      CERTPILOT_LIVE_DIR: join(stateDir, 'live', 'dev'),
      CERTPILOT_VERSION: '1',
      CERTPILOT_SERIAL: bundle.metadata.serialNumber,
      CERTPILOT_NOT_AFTER: bundle.metadata.notAfter,
      RENEWED_LINEAGE: join(stateDir, 'live', 'dev'),
      RENEWED_DOMAINS: 'hook.test www.hook.test',
    });
    assert.doesNotMatch(log.text(), /do-not-pass|PRIVATE KEY/);
    // Each output line is one log record, attributed to the deployer.
    assert.ok(log.lines.filter((l) => l.stream === 'stdout').every((l) => l.deployer === 'reload' && l.level === 30));
  });

  it('masks the values of its env in the output it logs and in its failure (set -x, env), not short ones', async () => {
    const log = capture();
    const secret = 'tok-9f8e7d6c5b4a';
    const script = 'set -x; curl_like() { :; }; curl_like -H "Authorization: Bearer $API_TOKEN"; echo "stdout $API_TOKEN $DEBUG"; echo "stderr ${API_TOKEN}x" >&2; exit 3';
    await assert.rejects(
      hook({ command: script, shell: true, env: { API_TOKEN: secret, DEBUG: 'true' }, logger: log.logger }).deploy(certificate),
      (err: Error) => {
        assert.doesNotMatch(err.message, new RegExp(secret));
        assert.match(err.message, /last stderr: .*stderr \[redacted\]x/);
        return true;
      },
    );
    assert.doesNotMatch(log.text(), new RegExp(secret));
    assert.match(log.text(), /Authorization: Bearer \[redacted\]/);
    assert.ok(log.lines.some((l) => l.line === 'stdout [redacted] true'), log.text());
  });

  it('without a PATH in certpilot\'s environment (cron) the hook still gets a usable one', async () => {
    const log = capture();
    await new HookDeployer({ id: 'reload', command: ['/bin/sh', '-c', 'echo "$PATH"'], logger: log.logger }).deploy(certificate);
    assert.deepEqual(log.lines.filter((l) => l.stream === 'stdout').map((l) => l.line), ['/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  });

  it('runs the deck\'s certbot deploy hook unchanged through RENEWED_LINEAGE and COMPOSE_PROJECT_NAME', async () => {
    // The deck's --deploy-hook, with its one hard-coded path (/etc/letsencrypt/) read from RENEWED_LINEAGE.
    const deck = `
        true && \\
        cd "$RENEWED_LINEAGE/../.." && \\
        cp -aL live/$COMPOSE_PROJECT_NAME/* . && \\
        cat cert.pem chain.pem privkey.pem > fullbundle.pem \\
    `;
    const result = await hook({ command: deck, shell: true, env: { COMPOSE_PROJECT_NAME: 'dev' } }).deploy(certificate);
    assert.match(result.message, /^sh -c 'true && cd "\$RENEWED_LINEAGE\/\.\.\/\.\." && cp -aL .*…' exited 0/);
    assert.equal(readFileSync(join(stateDir, 'fullbundle.pem'), 'utf8'), bundle.certPem + bundle.chainPem + bundle.privateKeyPem);
    assert.equal(readFileSync(join(stateDir, 'cert.pem'), 'utf8'), bundle.certPem);
    assert.equal(readFileSync(join(stateDir, 'fullchain.pem'), 'utf8'), bundle.fullchainPem);
    assert.equal(readFileSync(join(stateDir, 'privkey.pem'), 'utf8'), bundle.privateKeyPem);
  });

  it('a failing hook fails the deploy with its name, exit code and last stderr lines', async () => {
    const dir = await tempDir();
    const script = join(dir, 'reload.sh');
    writeFileSync(script, '#!/bin/sh\necho reloading\nfor i in 1 2 3 4 5 6; do echo "line $i" >&2; done\necho "AH00526: Syntax error on line 3" >&2\nexit 3\n');
    chmodSync(script, 0o755);
    const log = capture();
    await assert.rejects(hook({ command: [script], logger: log.logger }).deploy(certificate), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_DEPLOY_HOOK_FAILED');
      assert.equal(err.message, `hook deployer "reload": ${script} exited with code 3; last stderr: line 3 | line 4 | line 5 | line 6 | AH00526: Syntax error on line 3`);
      return true;
    });
    assert.deepEqual(log.lines.filter((l) => l.stream === 'stderr').map((l) => [l.level, l.line]).at(-1), [40, 'AH00526: Syntax error on line 3']);
    assert.deepEqual(log.lines.filter((l) => l.stream === 'stdout').map((l) => l.line), ['reloading']);
  });

  it('a hook killed by a signal, and one that cannot start, fail with what happened', async () => {
    await assert.rejects(hook({ command: 'kill -9 $$', shell: true }).deploy(certificate), /hook deployer "reload": sh -c 'kill -9 \$\$' was killed by SIGKILL/);
    await assert.rejects(hook({ command: ['/no/such/reload'] }).deploy(certificate), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_DEPLOY_HOOK_FAILED');
      assert.match(err.message, /\/no\/such\/reload could not be started: ENOENT/);
      return true;
    });
    // A script saved without its execute bit (root cannot run it either): the hint says how.
    const script = join(await tempDir('certpilot-hook-noexec-'), 'reload.sh');
    writeFileSync(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    await assert.rejects(hook({ command: [script] }).deploy(certificate), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.match(err.message, /reload\.sh could not be started: EACCES/);
      assert.match(err.hint, new RegExp(`is not executable \\(or is a directory\\): \`chmod \\+x ${script.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\``));
      return true;
    });
  });

  it('a failing shell hook is named by its deployer and its first line, an argv hook by its words; no value of its environment', async () => {
    const script = 'if [ -n "$SECRET_TOKEN" ]; then\n  cat "$RENEWED_LINEAGE/missing.pem" > /dev/null\nfi\necho "token was $SECRET_TOKEN" >&2; exit 4';
    await assert.rejects(hook({ id: 'deck-hook', command: script, shell: true, env: { SECRET_TOKEN: 's3cr3t-value' } }).deploy(certificate), (err: unknown) => {
      assert.ok(err instanceof CertpilotError);
      assert.equal(err.code, 'ERR_DEPLOY_HOOK_FAILED');
      assert.match(err.message, /^hook deployer "deck-hook": sh -c 'if \[ -n "\$SECRET_TOKEN" \]; then …' exited with code 4; last stderr: /);
      // The hook's own stderr tail is shown as before; the command part never holds the value.
      assert.ok(!err.message.split('; last stderr:')[0]?.includes('s3cr3t-value'));
      return true;
    });
    const long = `echo ${'x'.repeat(200)} >&2; exit 1`;
    await assert.rejects(hook({ command: long, shell: true }).deploy(certificate), (err: unknown) => {
      assert.match((err as Error).message, /^hook deployer "reload": sh -c 'echo x{70,}…' exited with code 1/);
      assert.ok((err as Error).message.split('; last stderr:')[0]!.length <= 140);
      return true;
    });
    await assert.rejects(hook({ command: ['sh', '-c', 'exit 2', 'reload web'] }).deploy(certificate), /hook deployer "reload": sh -c "exit 2" "reload web" exited with code 2$/);
  });

  it('a hanging hook and its child are killed at the timeout, with no process of its group left', async () => {
    const dir = await tempDir();
    const started = Date.now();
    await assert.rejects(
      hook({ command: ['sh', '-c', `echo $$ > ${dir}/sh.pid; sleep 300 & echo $! > ${dir}/sleep.pid; echo waiting >&2; wait`], timeoutSeconds: 1 }).deploy(certificate),
      (err: unknown) => {
        assert.ok(err instanceof CertpilotError);
        assert.equal(err.code, 'ERR_DEPLOY_HOOK_TIMEOUT');
        assert.equal(err.message.replace(/ sh -c "echo .*…/, ' sh -c "echo …'), 'hook deployer "reload": sh -c "echo … did not finish within 1 s and was killed with its process group; last stderr: waiting');
        return true;
      },
    );
    assert.ok(Date.now() - started < 60_000);
    const shPid = Number(readFileSync(join(dir, 'sh.pid'), 'utf8'));
    const sleepPid = Number(readFileSync(join(dir, 'sleep.pid'), 'utf8'));
    assert.deepEqual(await gone([shPid, sleepPid]), [], 'the hook and its child are gone');
    assert.deepEqual(groupMembers(shPid), [], 'nothing of its process group is left');
  });

  it('a hook that ignores SIGTERM (and its children, which inherit that) gets SIGKILL after the grace', async () => {
    const dir = await tempDir();
    await assert.rejects(
      hook({ command: 'trap "" TERM; sleep 300 & echo $! > ' + `${dir}/sleep.pid; wait; wait`, shell: true, timeoutSeconds: 1, killGraceMs: 300 }).deploy(certificate),
      /ERR_DEPLOY_HOOK_TIMEOUT|did not finish within 1 s/,
    );
    const sleepPid = Number(readFileSync(join(dir, 'sleep.pid'), 'utf8'));
    assert.deepEqual(await gone([sleepPid]), []);
  });

  it('never logs private key material a hook prints', async () => {
    const log = capture();
    await hook({ command: ['sh', '-c', 'cat "$RENEWED_LINEAGE/privkey.pem"; echo after'], logger: log.logger }).deploy(certificate);
    const body = bundle.privateKeyPem.split('\n')[1] ?? '';
    assert.ok(body.length > 20);
    assert.equal(log.text().includes(body), false, 'a key line reached the log');
    assert.deepEqual(log.lines.filter((l) => l.stream === 'stdout').map((l) => l.line).at(-1), 'after');
    assert.ok(log.lines.some((l) => l.line === '[private key material hidden]'));
  });

  it('hides the key it deploys when a hook prints it without its PEM armour, joined or line by line, in logs and in its failure', async () => {
    const log = capture();
    const lines = bundle.privateKeyPem.split('\n').filter((l) => l && !l.startsWith('-----'));
    const joined = lines.join('');
    // A tool that strips the armour and the newlines, then one that prints the body's lines as they are.
    const script = `grep -v -- ----- "$RENEWED_LINEAGE/privkey.pem" | tr -d '\\n' >&2; echo >&2; grep -v -- ----- "$RENEWED_LINEAGE/privkey.pem"; echo "key says: $(sed -n 2p "$RENEWED_LINEAGE/privkey.pem")" >&2; exit 1`;
    await assert.rejects(hook({ command: script, shell: true, logger: log.logger }).deploy(certificate), (err: Error) => {
      assert.equal(err.message.includes(joined.slice(0, 32)), false, `the key body reached the failure: ${err.message}`);
      assert.match(err.message, /last stderr: \[private key material hidden\] \| key says: \[private key material hidden\]/);
      return true;
    });
    assert.ok(lines.length > 1 && (lines[0] ?? '').length >= 32);
    for (const part of [joined, ...lines.filter((l) => l.length >= 16)]) assert.equal(log.text().includes(part), false, `key material reached the log:\n${log.text()}`);
    assert.ok(log.lines.filter((l) => l.stream === 'stdout').every((l) => l.line === '[private key material hidden]'), log.text());
  });

  it('runs in cwd', async () => {
    const dir = await tempDir();
    await hook({ command: ['sh', '-c', 'pwd > here'], cwd: dir }).deploy(certificate);
    assert.equal(readFileSync(join(dir, 'here'), 'utf8').trim(), dir);
  });

  it('an abort stops the hook\'s group and rejects with the reason', async () => {
    const controller = new AbortController();
    const reason = new Error('SIGTERM');
    setTimeout(() => controller.abort(reason), 200);
    await assert.rejects(hook({ command: ['sleep', '300'] }).deploy(certificate, { signal: controller.signal }), (err) => err === reason);
  });
});

describe('hook schema and registry entry', () => {
  it('an argv list without a shell, one string only with shell: true', () => {
    assert.deepEqual(hookSchema().parse({ command: ['apache2ctl', 'graceful'] }).timeoutSeconds, 120);
    const noShell = hookSchema().safeParse({ command: 'apache2ctl graceful' });
    assert.equal(noShell.success, false);
    assert.match(JSON.stringify(noShell.error?.issues), /set `shell: true`/);
    assert.equal(hookSchema().safeParse({ command: ['a', 'b'], shell: true }).success, false);
    assert.equal(hookSchema().safeParse({ command: 'a && b', shell: true }).success, true);
    assert.equal(hookSchema().safeParse({ command: ['x'], env: { 'BAD-NAME': 'v' } }).success, false);
  });

  it('with a store that keeps no files, the hook reads the version from a private 0700 directory removed after its run', async () => {
    const bundle = makeTestBundle();
    const stored = await new StateStore(new MemoryStateBackend()).save('mem', bundle);
    assert.equal(stored.paths, undefined, 'a memory store has no local paths');
    const out = join(await tempDir(), 'seen');
    const script = 'd="$CERTPILOT_LIVE_DIR"; { stat -c %a "$d"; stat -c %a "$d/privkey.pem"; [ "$RENEWED_LINEAGE" = "$d" ] && echo same; echo "$d"; } > "$1"; cat "$d/fullchain.pem" >> "$1"; cat "$d/privkey.pem" | sha256sum >> "$1"';
    await hook({ command: ['sh', '-c', script, 'sh', out] }).deploy(stored);
    const [dirMode, keyMode, same, dir, ...rest] = readFileSync(out, 'utf8').split('\n');
    assert.equal(dirMode, '700');
    assert.equal(keyMode, '600');
    assert.equal(same, 'same');
    assert.ok(rest.join('\n').startsWith(bundle.fullchainPem.trim()), 'the hook read the version being deployed');
    assert.equal(existsSync(dir ?? ''), false, 'the directory is removed after the run');
    await assert.rejects(hook({ command: ['sh', '-c', 'echo "$CERTPILOT_LIVE_DIR" > "$1"; exit 3', 'sh', out] }).deploy(stored));
    assert.equal(existsSync(readFileSync(out, 'utf8').trim()), false, 'removed after a failed run too');
  });

  it('the registry builds a HookDeployer named after the instance, cwd relative to the config file', async () => {
    const plugin = findPlugin('hook');
    assert.ok(plugin);
    assert.equal(plugin.kind, 'deployer');
    const base = await tempDir();
    const options = plugin.schema.parse({ command: ['sh', '-c', 'echo "$CERTPILOT_NAME $KEEP" > out'], cwd: '.', passEnv: ['KEEP'] });
    const instance = (await plugin.create(options, { name: 'reload', logger: silentLogger, clock: systemClock, baseDir: base, stateDir: base, env: { KEEP: 'kept', PATH: '/usr/bin:/bin' } })) as HookDeployer;
    assert.equal(instance.id, 'reload');
    const stored = await new FilesystemCertificateStore({ stateDir: await tempDir() }).save('www', makeTestBundle());
    await instance.deploy(stored);
    assert.equal(readFileSync(join(base, 'out'), 'utf8'), 'www kept\n');
  });
});

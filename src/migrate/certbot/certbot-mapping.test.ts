import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigDraft } from '../config-draft.js';
import { mapRenewalConf, type MappingContext } from './certbot-mapping.js';
import { listValue, parseRenewalConf } from './renewal-conf.js';

const ctx: MappingContext = { configDir: '/etc/letsencrypt', directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory', liveKeyType: 'ec-p256' };

/** A renewal conf as certbot 2.x writes it, with `params` lines added to [renewalparams]. */
function conf(name: string, params: string[], extra = ''): string {
  return `# renew_before_expiry = 30 days
version = 2.1.0
archive_dir = /etc/letsencrypt/archive/${name}
cert = /etc/letsencrypt/live/${name}/cert.pem
privkey = /etc/letsencrypt/live/${name}/privkey.pem
chain = /etc/letsencrypt/live/${name}/chain.pem
fullchain = /etc/letsencrypt/live/${name}/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = 0123456789abcdef
server = https://acme-v02.api.letsencrypt.org/directory
${params.join('\n')}
${extra}`;
}

describe('renewal conf', () => {
  it('parses sections, the webroot map, quoted values and ConfigObj lists', () => {
    const parsed = parseRenewalConf(conf('a', ['authenticator = webroot', 'webroot_path = /srv/a, "/srv/b",', 'renew_hook = "echo a, b"'], '[[webroot_map]]\na.test = /srv/a\nwww.a.test = /srv/b\n'));
    assert.equal(parsed.top.archive_dir, '/etc/letsencrypt/archive/a');
    assert.equal(parsed.params.account, '0123456789abcdef');
    assert.deepEqual(listValue(parsed.params.webroot_path), ['/srv/a', '/srv/b']);
    assert.equal(parsed.params.renew_hook, 'echo a, b');
    assert.deepEqual(parsed.webrootMap, { 'a.test': '/srv/a', 'www.a.test': '/srv/b' });
  });

  it('names the line it cannot read', () => {
    assert.throws(() => parseRenewalConf('version = 2\nnot a setting\n'), /line 2/);
  });
});

describe('mapping a renewal conf', () => {
  it('webroot per name: one solver per directory, chosen per name', () => {
    const draft = new ConfigDraft();
    const text = conf('a', ['authenticator = webroot', 'webroot_path = /srv/a,', 'key_type = ecdsa', 'elliptic_curve = secp384r1', 'reuse_key = True'], '[[webroot_map]]\na.test = /srv/a\nwww.a.test = /srv/b\n');
    const { certificate, notes } = mapRenewalConf('a', ['a.test', 'www.a.test'], parseRenewalConf(text), draft, ctx);
    assert.deepEqual(notes, []);
    assert.equal(certificate.keyType, 'ec-p384');
    assert.equal(certificate.reuseKey, true);
    assert.deepEqual(draft.solvers, { webroot: { type: 'webroot', path: '/srv/a' }, 'webroot-2': { type: 'webroot', path: '/srv/b' } });
    assert.deepEqual(certificate.solvers, [{ names: ['a.test'], solver: 'webroot' }, { names: ['www.a.test'], solver: 'webroot-2' }]);
  });

  it("standalone keeps its port and address; RSA size; the deploy hook becomes a shell hook", () => {
    const draft = new ConfigDraft();
    const text = conf('b', ['authenticator = standalone', 'http01_port = 8080', 'http01_address = 127.0.0.1', 'key_type = rsa', 'rsa_key_size = 4096', 'renew_hook = systemctl reload nginx']);
    const { certificate, notes } = mapRenewalConf('b', ['b.test'], parseRenewalConf(text), draft, ctx);
    assert.deepEqual(notes, []);
    assert.equal(certificate.keyType, 'rsa-4096');
    assert.deepEqual(draft.solvers[certificate.solver ?? ''], { type: 'standalone', port: 8080, host: '127.0.0.1' });
    assert.deepEqual(certificate.deploy, ['b-deploy-hook']);
    assert.deepEqual(draft.deployers['b-deploy-hook'], { type: 'hook', command: 'systemctl reload nginx', shell: true, timeoutSeconds: 300 });
  });

  it("the deck's staging CronJob: certbot-redis becomes the redis solver with its prefix; its hook is kept with a warning only when it names certbot's paths", () => {
    const draft = new ConfigDraft();
    const text = conf('www-certificate', [
      'authenticator = certbot-redis:redis',
      'certbot-redis:redis_redis_url = redis://redis:6379',
      'certbot-redis:redis_redis_prefix = .well-known/acme-challenge/',
      'renew_hook = true && . /usr/local/lib/update-certificate.lib.sh && update_secret && sleep 150 && update_pods',
    ]);
    const { certificate, notes } = mapRenewalConf('www-certificate', ['www.project.com'], parseRenewalConf(text), draft, ctx);
    assert.deepEqual(draft.solvers[certificate.solver ?? ''], { type: 'redis', url: 'redis://redis:6379', prefix: '.well-known/acme-challenge/' });
    assert.equal(certificate.deploy?.length, 1);
    assert.deepEqual(notes, []);
  });

  it("the deck's dev hook copies certbot's live files: replaced by the files deployer when the volume holds the copies, else left out (commented out) as an action", () => {
    const hook = 'renew_hook = true && cd /etc/letsencrypt/ && cp -aL live/dev/* . && cat cert.pem chain.pem privkey.pem > fullbundle.pem';
    const text = conf('dev', ['authenticator = dns-route53', hook]);
    const withVolume = new ConfigDraft();
    const mapped = mapRenewalConf('dev', ['dev.project.com'], parseRenewalConf(text), withVolume, { ...ctx, filesDeployer: 'volume' });
    assert.deepEqual(withVolume.solvers[mapped.certificate.solver ?? ''], { type: 'route53' });
    assert.deepEqual(mapped.certificate.deploy, ['volume']);
    assert.match(mapped.notes[0]?.reason ?? '', /copies certbot's live\/dev files.*`files` deployer `volume`/);
    const without = new ConfigDraft();
    // `cd /etc/letsencrypt/ && cp -aL live/dev/*` cannot be rewritten: written, it would copy certbot's stale files.
    const left = mapRenewalConf('dev', ['dev.project.com'], parseRenewalConf(text), without, { ...ctx, liveDir: '/var/lib/certpilot/live' });
    assert.equal(left.certificate.deploy, undefined);
    assert.deepEqual(without.deployers, {});
    assert.deepEqual(without.leftOut.map((l) => [l.name, l.certificate, l.entry.command]), [['dev-deploy-hook', 'dev', hook.slice('renew_hook = '.length)]]);
    assert.equal(left.notes[0]?.level, 'action');
    assert.match(left.notes[0]?.reason ?? '', /NOT written: .*RENEWED_LINEAGE/);
  });

  it('reports what has no equivalent: nginx, manual, pre/post hooks, P-521, another CA', () => {
    const draft = new ConfigDraft();
    const text = conf('c', ['authenticator = nginx', 'installer = nginx', 'pre_hook = systemctl stop x', 'post_hook = systemctl start x', 'key_type = ecdsa', 'elliptic_curve = secp521r1']).replace(
      'server = https://acme-v02.api.letsencrypt.org/directory',
      'server = https://acme.zerossl.com/v2/DV90',
    );
    const { certificate, notes } = mapRenewalConf('c', ['c.test'], parseRenewalConf(text), draft, ctx);
    const settings = notes.map((n) => n.setting.split(' =')[0]);
    assert.deepEqual(settings.sort(), ['authenticator', 'installer', 'key_type', 'post_hook', 'pre_hook', 'server']);
    assert.equal(certificate.keyType, 'ec-p256', 'the live key type when the conf names one certpilot does not issue');
    assert.equal(certificate.solver, undefined, 'falls back to the default solver');
  });

  it('shares one instance between certificates with the same setting', () => {
    const draft = new ConfigDraft();
    const text = (n: string): string => conf(n, ['authenticator = webroot', 'webroot_path = /srv/www,', 'renew_hook = apache2ctl graceful']);
    const a = mapRenewalConf('a', ['a.test'], parseRenewalConf(text('a')), draft, ctx);
    const b = mapRenewalConf('b', ['b.test'], parseRenewalConf(text('b')), draft, ctx);
    assert.equal(a.certificate.solver, b.certificate.solver);
    assert.deepEqual(a.certificate.deploy, b.certificate.deploy);
    assert.equal(Object.keys(draft.deployers).length, 1);
  });
});

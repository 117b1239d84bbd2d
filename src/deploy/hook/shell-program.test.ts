import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shellHookProgram } from './shell-program.js';

describe('shellHookProgram', () => {
  it('is the first word of a simple command when it is an absolute path, else undefined', () => {
    assert.equal(shellHookProgram('/usr/local/bin/reload-nginx.sh'), '/usr/local/bin/reload-nginx.sh');
    assert.equal(shellHookProgram('  /opt/hooks/copy.sh --to /srv && systemctl reload nginx'), '/opt/hooks/copy.sh');
    assert.equal(shellHookProgram('/opt/hooks/copy.sh; echo done'), '/opt/hooks/copy.sh');
    for (const command of ['systemctl reload nginx', '"/opt/my hooks/x.sh"', 'FOO=1 /opt/x', '$HOME/x.sh', '/opt/*.sh', 'cd /srv && ./x', '/opt/x$1', '']) {
      assert.equal(shellHookProgram(command), undefined, command);
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CertpilotError } from '../../errors.js';
import { directoryFolderName, safeName } from './safe-name.js';

describe('safeName', () => {
  it('accepts letters, digits, dots, dashes and underscores', () => {
    for (const name of ['example.com', 'www.example.com', 'a', 'A-b_c.9', 'x'.repeat(200), 'wildcard_example.org']) {
      assert.equal(safeName(name), name);
    }
  });

  it('refuses traversal, hidden names, separators, other characters and overlong names', () => {
    for (const name of ['', '.', '..', '../x', 'a/../b', 'a/b', 'a\\b', '.env', 'a..b', '*.example.com', 'a b', 'a\0b', 'ä', 'x'.repeat(201)]) {
      assert.throws(
        () => safeName(name),
        (err: unknown) => err instanceof CertpilotError && err.code === 'ERR_STORAGE_NAME' && err.message.startsWith('storage: name '),
        JSON.stringify(name),
      );
    }
  });
});

describe('directoryFolderName', () => {
  it('maps a directory URL to host_port_path', () => {
    assert.equal(directoryFolderName('https://localhost:14000/dir'), 'localhost_14000_dir');
    assert.equal(directoryFolderName('https://acme-v02.api.letsencrypt.org/directory'), 'acme-v02.api.letsencrypt.org_directory');
  });

  it('appends a hash when the mapping would lose information, so URLs never share a folder', () => {
    const urls = [
      'https://ca.example/a_b',
      'https://ca.example/a/b',
      'https://ca.example/a%20b',
      'http://ca.example/a/b',
      'https://ca.example/a/b?x=1',
      `https://ca.example/${'p'.repeat(300)}`,
    ];
    const folders = urls.map(directoryFolderName);
    assert.equal(new Set(folders).size, urls.length, folders.join(' '));
    for (const folder of folders) assert.equal(safeName(folder), folder);
    assert.equal(folders[1], 'ca.example_a_b');
    assert.match(folders[0] ?? '', /^ca\.example_a_b_[0-9a-f]{12}$/);
  });

  it('refuses something that is not a URL', () => {
    assert.throws(() => directoryFolderName('not a url'), (err: unknown) => err instanceof CertpilotError && err.code === 'ERR_STORAGE_NAME');
  });
});

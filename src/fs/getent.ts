/**
 * User and group names through the system's own databases (`getent passwd|group NAME`), so NSS
 * sources (LDAP, sssd) count as they do for `chown`. Used by the files deployer and, before any
 * order, by the configuration's cross-checks.
 */
import { execFile } from 'node:child_process';

/**
 * The numeric id of user or group `name`, or undefined when the database has no such entry
 * (getent exits 2). Rejects when getent cannot run or fails otherwise, with its error.
 */
export function lookupId(database: 'passwd' | 'group', name: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    execFile('getent', [database, name], { encoding: 'utf8' }, (err, stdout) => {
      if (err) {
        if ((err as { code?: unknown }).code === 2) resolve(undefined);
        else reject(err);
        return;
      }
      const id = Number(stdout.trim().split(':')[2]);
      resolve(Number.isInteger(id) ? id : undefined);
    });
  });
}

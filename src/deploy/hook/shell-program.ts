/**
 * The program a shell hook (`shell: true`, a certbot `--deploy-hook` string) starts, when it can be
 * told without running a shell: the first word of the command, when that word is an absolute path
 * written plainly (no quotes, variables, globs or other shell syntax), e.g. `/usr/local/bin/reload
 * nginx` or `/opt/hooks/copy.sh && systemctl reload nginx`. Anything else (`systemctl …`, a path in
 * quotes, `FOO=1 /x`, `cd /srv; …`) is left to the shell and gives `undefined`.
 */
export function shellHookProgram(command: string): string | undefined {
  const m = /^\s*(\/[A-Za-z0-9_./+,@%:-]+)(?=$|[\s;&|)])/.exec(command);
  return m?.[1];
}

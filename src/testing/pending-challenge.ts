import type { PendingChallenge } from '../challenges/challenge-solver.js';

/** An http-01 {@link PendingChallenge} for solver tests: `token.thumbprint` as key authorization. */
export function pendingHttp01Challenge(token: string, thumbprint = 'thumbprint_0123456789'): PendingChallenge {
  return {
    type: 'http-01',
    identifier: { type: 'dns', value: 'www.example.com' },
    wildcard: false,
    url: `https://ca.test/chall/${token}`,
    token,
    keyAuthorization: `${token}.${thumbprint}`,
  };
}

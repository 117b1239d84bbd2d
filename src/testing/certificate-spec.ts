/**
 * A resolved certificate for unit tests: `www` for www.example.test, an EC P-256 key, the default
 * solver, no deployers; `overrides` changes any field (a profile, deployers).
 */
import type { ResolvedCertificate } from '../config/load-config.js';

/** The test certificate `www`, with `overrides`. */
export function testCertificateSpec(overrides: Partial<ResolvedCertificate> = {}): ResolvedCertificate {
  return {
    name: 'www',
    domains: ['www.example.test'],
    identifiers: [{ type: 'dns', value: 'www.example.test' }],
    keyType: 'ec-p256',
    reuseKey: false,
    solvers: { 'www.example.test': 'default' },
    deploy: [],
    ...overrides,
  };
}

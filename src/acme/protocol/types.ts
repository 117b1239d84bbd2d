/**
 * RFC 8555 §7.1 resource objects, plus the `profile` (ACME profiles) and `replaces` (RFC 9773 §5)
 * order fields. Each `XxxResource` is the object as sent plus the `url` it lives at.
 */
import type { Identifier } from '../../challenges/challenge-solver.js';
import type { AcmeProblem } from './problem.js';
import type { Jwk } from './jws.js';

/** Account status (§7.1.6). */
export type AccountStatus = 'valid' | 'deactivated' | 'revoked';
/** Order status (§7.1.6). */
export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
/** Authorization status (§7.1.6). */
export type AuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
/** Challenge status (§7.1.6). */
export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';

/** An account object (§7.1.2). */
export interface Account {
  status: AccountStatus;
  contact?: string[];
  termsOfServiceAgreed?: boolean;
  externalAccountBinding?: unknown;
  orders?: string;
  /** Pebble and Boulder echo the account key. */
  key?: Jwk;
}

/** An order object (§7.1.3). */
export interface Order {
  status: OrderStatus;
  expires?: string;
  identifiers: Identifier[];
  notBefore?: string;
  notAfter?: string;
  error?: AcmeProblem;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  /** The profile the CA applied (ACME profiles extension). */
  profile?: string;
  /** The ARI id of the certificate this order replaces (RFC 9773 §5). */
  replaces?: string;
}

/** A challenge object (§7.1.5, §8). */
export interface Challenge {
  type: string;
  url: string;
  status: ChallengeStatus;
  token?: string;
  /** dns-persist-01 (draft-ietf-acme-dns-persist-02 §3): the issuer domain names a record may name. */
  issuerDomainNames?: string[];
  /** The same in draft -01's spelling (Pebble 2.10). */
  'issuer-domain-names'?: string[];
  /** dns-persist-01 in Pebble after 2.10.1: the account URI a -01 record names. */
  accounturi?: string;
  validated?: string;
  error?: AcmeProblem;
}

/** An authorization object (§7.1.4). */
export interface Authorization {
  identifier: Identifier;
  status: AuthorizationStatus;
  expires?: string;
  challenges: Challenge[];
  wildcard?: boolean;
}

/** An account plus its URL (the JWS `kid`). */
export type AccountResource = Account & { url: string };
/** An order plus its URL. */
export type OrderResource = Order & { url: string };
/** An authorization plus its URL. */
export type AuthorizationResource = Authorization & { url: string };
/** A challenge; `url` is already part of the object. */
export type ChallengeResource = Challenge;
